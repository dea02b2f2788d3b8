"""Loads the configured backend of every stage, once.

This is the one place where models are loaded: a worker process builds one ``Stages`` and
reuses it for every job, so weights (and the retrieval index) are read once per process.
Which setting names each stage's backend, and its embedded default, are engine/backends.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from engine import fallback as fb
from engine.backends import EMBEDDED, STAGE_SETTINGS
from engine.bridge import Bridge, load_bridge
from engine.compose import Composer, load_composer
from engine.config import Settings
from engine.perceive import Perceiver, load_perceiver
from engine.retrieve import Retriever, load_retriever
from engine.types import ProgressEvent, ProgressFn, no_progress

T = TypeVar("T")


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

    def load_retriever_with_progress(s: Settings) -> Retriever:
        return load_retriever(s, progress=index_progress)

    def stage(name: str, load: Callable[[Settings], T], wrap: type) -> T:
        """The embedded default as it is; a model stage wrapped so that a model that fails
        to load, or fails on a job, degrades to the default with a note (engine/fallback.py)."""
        setting, default = STAGE_SETTINGS[name], EMBEDDED[name]
        if getattr(settings, setting) == default:
            return load(settings)
        embedded = settings.model_copy(update={setting: default})
        return wrap(lambda: load(settings), lambda: load(embedded), default)

    return Stages(
        perceiver=stage("perceive", load_perceiver, fb.FallbackPerceiver),
        bridge=stage("bridge", load_bridge, fb.FallbackBridge),
        retriever=stage("retrieve", load_retriever_with_progress, fb.FallbackRetriever),
        composer=stage("compose", load_composer, fb.FallbackComposer),
    )
