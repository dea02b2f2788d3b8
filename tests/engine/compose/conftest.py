"""Briefs and real folk-tune exemplars (from music21's corpus) for the composer tests."""

from __future__ import annotations

import re
from pathlib import Path

import music21
import pytest

from engine.compose.abc import tonic_and_mode
from engine.types import Exemplar, MusicBrief

CORPUS = Path(music21.__file__).parent / "corpus"


def make_brief(**changes: object) -> MusicBrief:
    fields: dict = dict(
        key="G", mode="major", tempo=100, meter="4/4", melody_program=73, harmony_program=0,
        bass_program=32, drums=False, register=67, density=0.5, dynamics="mf", velocity=80,
        accompaniment="block", genre="folk", moods=["calm"], instruments=["flute", "piano", "bass"],
        description="", prompt="", reasons=[], duration=30.0,
    )  # fmt: skip
    fields.update(changes)
    return MusicBrief(**fields)


def corpus_tunes(relative: str, count: int) -> list[Exemplar]:
    """The first ``count`` tunes of one music21 ABC file, as exemplars."""
    text = (CORPUS / relative).read_text(encoding="latin-1")
    tunes = [t.strip() + "\n" for t in re.split(r"(?m)^(?=X:)", text) if t.startswith("X:")]
    out = []
    for i, abc in enumerate(tunes[:count]):
        key = re.search(r"(?m)^K:\s*(.*)$", abc)
        meter = re.search(r"(?m)^M:\s*(.*)$", abc)
        assert key and meter
        tonic, mode = tonic_and_mode(key.group(1))
        out.append(
            Exemplar(
                id=f"{relative}/{i}",
                title="",
                collection=relative.split("/")[0],
                description="",
                abc=abc,
                key=tonic,
                mode=mode,
                meter=meter.group(1).strip(),
                tempo=100,
                similarity=0.5,
                score=0.5,
            )  # fmt: skip
        )
    return out


@pytest.fixture(scope="session")
def exemplars() -> list[Exemplar]:
    """Five O'Neill's tunes (minor and major, 2/4 and 4/4)."""
    return corpus_tunes("oneills1850/0001-0050.abc", 5)


@pytest.fixture(scope="session")
def jigs() -> list[Exemplar]:
    """Five O'Neill's tunes in 6/8."""
    return [ex for ex in corpus_tunes("oneills1850/0001-0050.abc", 50) if ex.meter == "6/8"][:5]
