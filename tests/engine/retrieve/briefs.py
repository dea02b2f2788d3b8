"""MusicBriefs built by hand for the retrieval tests."""

from __future__ import annotations

from engine.types import MusicBrief


def make_brief(
    key: str = "A",
    mode: str = "minor",
    meter: str = "3/4",
    tempo: int = 84,
    moods: tuple[str, ...] = ("melancholic", "tender"),
    density: float = 0.3,
    register: int = 67,
    genre: str = "folk",
    hint: str | None = None,
) -> MusicBrief:
    return MusicBrief(
        key=key,
        mode=mode,
        tempo=tempo,
        meter=meter,
        melody_program=73,
        harmony_program=48,
        bass_program=32,
        drums=False,
        register=register,
        density=density,
        dynamics="mp",
        velocity=64,
        accompaniment="waltz",
        genre=genre,
        moods=list(moods),
        instruments=["flute", "strings", "bass"],
        description="(set by the bridge)",
        prompt="(set by the bridge)",
        reasons=[],
        duration=30.0,
        hint=hint,
    )


SAD_WALTZ = dict(key="A", mode="minor", meter="3/4", tempo=84, moods=("melancholic", "tender"))
HAPPY_JIG = dict(
    key="D", mode="major", meter="6/8", tempo=180, moods=("lively", "energetic"), density=0.8
)
