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

    # Model stages (issue 7) are wrapped so that a model that fails to load, or fails on a
    # job, degrades to the embedded default with a note instead of failing the job.
    from engine import fallback as fb

    def embedded(**change: str) -> Settings:
        return settings.model_copy(update=change)

    perceiver: Perceiver = (
        load_perceiver(settings)
        if settings.perceive == "analytic"
        else (
            fb.FallbackPerceiver(
                lambda: load_perceiver(settings),
                lambda: load_perceiver(embedded(perceive="analytic")),
                "analytic",
            )
        )
    )
    bridge: Bridge = (
        load_bridge(settings)
        if settings.bridge == "rules"
        else fb.FallbackBridge(
            lambda: load_bridge(settings), lambda: load_bridge(embedded(bridge="rules")), "rules"
        )
    )
    retriever: Retriever = (
        load_retriever(settings, progress=index_progress)
        if settings.retrieve == "minilm"
        else fb.FallbackRetriever(
            lambda: load_retriever(settings, progress=index_progress),
            lambda: load_retriever(embedded(retrieve="minilm"), progress=index_progress),
            "minilm",
        )
    )
    composer: Composer = (
        load_composer(settings)
        if settings.compose == "markov"
        else (
            fb.FallbackComposer(
                lambda: load_composer(settings),
                lambda: load_composer(embedded(compose="markov")),
                "markov",
            )
        )
    )
    return Stages(perceiver=perceiver, bridge=bridge, retriever=retriever, composer=composer)
