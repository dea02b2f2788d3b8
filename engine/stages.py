"""Loads the configured backend of every stage, once.

This is the one place where models are loaded: a worker process builds one ``Stages`` and
reuses it for every job, so weights (and the retrieval index) are read once per process.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.bridge import Bridge, load_bridge
from engine.compose import Composer, load_composer
from engine.config import Settings
from engine.perceive import Perceiver, load_perceiver
from engine.retrieve import Retriever, load_retriever
from engine.types import ProgressEvent, ProgressFn, no_progress


@dataclass
class Stages:
    perceiver: Perceiver
    bridge: Bridge
    retriever: Retriever
    composer: Composer

    def backends(self) -> dict[str, str]:
        return {
            "perceive": self.perceiver.name,
            "bridge": self.bridge.name,
            "retrieve": self.retriever.name,
            "compose": self.composer.name,
        }


def load_stages(settings: Settings, progress: ProgressFn = no_progress) -> Stages:
    def index_progress(done: int, total: int, what: str) -> None:
        progress(ProgressEvent("index", f"preparing the tune library ({what})", done, total))

    return Stages(
        perceiver=load_perceiver(settings),
        bridge=load_bridge(settings),
        retriever=load_retriever(settings, progress=index_progress),
        composer=load_composer(settings),
    )
