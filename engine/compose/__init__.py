"""Compose: MusicBrief + exemplars -> ABC: ``markov`` (embedded) or an LLM/VLM (``hf:``, ``openai:``)."""

from __future__ import annotations

from typing import Protocol

from engine.config import Settings
from engine.errors import ConfigError
from engine.types import Draft, Exemplar, Feedback, MusicBrief


class Composer(Protocol):
    name: str

    def compose(
        self,
        brief: MusicBrief,
        exemplars: list[Exemplar],
        seed: int,
        feedback: Feedback | None = None,
    ) -> Draft: ...


def load_composer(settings: Settings) -> Composer:
    """The composer named by ``settings.compose``."""
    if settings.compose == "markov":
        from engine.compose.markov import MarkovComposer

        return MarkovComposer()
    if settings.compose.startswith(("hf:", "openai:")):
        from engine.compose.llm import load_llm_composer

        return load_llm_composer(settings)
    raise ConfigError(
        detail=f"unknown composer {settings.compose!r} (PICTUNE_COMPOSE); use 'markov', "
        "hf:<model> or openai:<base url>#<model>"
    )
