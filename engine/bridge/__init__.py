"""Bridge: Perception (+ a user's hint) -> MusicBrief. ``rules`` (default) or an LLM (``hf:``, ``openai:``)."""

from __future__ import annotations

from typing import Protocol

from engine.config import Settings
from engine.errors import ConfigError
from engine.types import MusicBrief, Perception, PieceOptions


class Bridge(Protocol):
    name: str

    def bridge(
        self,
        perception: Perception,
        hint: str | None,
        duration: float,
        options: PieceOptions | None = None,
    ) -> MusicBrief:
        """``options`` (what the person chose outright) override the picture and the hint."""
        ...


def load_bridge(settings: Settings) -> Bridge:
    """The bridge that ``settings.bridge`` names."""
    choice = (settings.bridge or "").strip()
    if choice == "rules":
        from engine.bridge.rules import RulesBridge

        return RulesBridge()
    if choice.startswith(("hf:", "openai:")):
        from engine.bridge.llm_bridge import load_llm_bridge

        return load_llm_bridge(settings)
    raise ConfigError(
        detail=f"PICTUNE_BRIDGE={choice!r} is not a known bridge: use 'rules', hf:<model> "
        "or openai:<base url>#<model>."
    )
