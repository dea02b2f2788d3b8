"""Perception: image -> Perception. ``analytic`` (default, no model) or ``hf:<model>``."""

from __future__ import annotations

from typing import Protocol

from PIL import Image

from engine.config import Settings
from engine.errors import ConfigError
from engine.types import ImageInfo, Perception


class Perceiver(Protocol):
    name: str

    def perceive(self, image: Image.Image, info: ImageInfo) -> Perception: ...


def load_perceiver(settings: Settings) -> Perceiver:
    """The perceiver that ``settings.perceive`` names."""
    choice = (settings.perceive or "").strip()
    if choice == "analytic":
        from engine.perceive.analytic import AnalyticPerceiver

        return AnalyticPerceiver()
    if choice.startswith("hf:"):
        from engine.perceive.hf import load_hf_perceiver

        return load_hf_perceiver(settings)
    raise ConfigError(
        detail=f"PICTUNE_PERCEIVE={choice!r} is not a known perceiver: use 'analytic' or hf:<model>."
    )
