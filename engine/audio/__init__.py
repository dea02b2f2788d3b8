"""Audio generation: MusicBrief -> audio with MusicGen (``audio`` mode, arXiv 2405.02801), or
MusicGen-melody conditioned on the rendered symbolic piece (``hybrid`` mode)."""

from __future__ import annotations

from typing import Protocol

from engine.config import Settings
from engine.errors import InvalidOption
from engine.render.audio import Audio


class AudioGenerator(Protocol):
    name: str

    def generate(
        self, prompt: str, seconds: float, seed: int, melody: Audio | None = None
    ) -> Audio: ...


def load_audio_generator(settings: Settings, melody: bool = False) -> AudioGenerator:
    """MusicGen for ``audio`` mode, MusicGen-melody for ``hybrid``; loaded once per process."""
    reference = settings.musicgen_melody if melody else settings.musicgen
    if not reference:
        mode = "hybrid" if melody else "audio"
        raise InvalidOption(
            f"The {mode} mode needs a MusicGen model, which this Pictune does not have: "
            "use mode symbolic."
        )
    from engine.audio.musicgen import load_musicgen

    return load_musicgen(settings, reference, melody)
