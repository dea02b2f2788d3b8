"""The motivation tells the truth about the piece it comes with.

Twelve pieces from varied scenes go through the stages as eval/run.py calls them (3 refinement
rounds, the tune library replaced by five O'Neill's tunes so that no index is built), and
each motivation is checked against its ABC: no control characters, no line said twice, and
the tempo, key, mode, instruments and drums it names are the piece's.
"""

from __future__ import annotations

import re

import pytest

from engine.compose.abc import tonic_and_mode
from engine.compose.instruments import instrument
from engine.config import Settings
from engine.stages import Stages, load_bridge, load_composer, load_perceiver
from eval.images import SCENE_KINDS, scene
from eval.run import Composer
from tests.engine.compose.conftest import corpus_tunes

HINTS = (None, "a fast jazz tune with drums", "slow and sad", None)


@pytest.fixture(scope="module")
def records() -> list[dict]:
    settings = Settings(_env_file=None)
    composer = Composer(settings, cache_dir=None)
    composer._stages = Stages(
        perceiver=load_perceiver(settings),
        bridge=load_bridge(settings),
        retriever=None,  # type: ignore[arg-type]  # never asked: _search is replaced
        composer=load_composer(settings),
    )
    exemplars = corpus_tunes("oneills1850/0001-0050.abc", 5)
    composer._search = lambda brief, k: exemplars  # type: ignore[method-assign]
    out = []
    for i in range(12):
        kind = SCENE_KINDS[i % len(SCENE_KINDS)]
        out.append(composer.piece(kind, scene(kind, i), k=5, rounds=3, hint=HINTS[i % 4]))
    assert all(r["ok"] for r in out)
    return out


def test_no_control_characters(records: list[dict]) -> None:
    for r in records:
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", r["motivation"]), r["name"]


def test_no_line_said_twice(records: list[dict]) -> None:
    for r in records:
        lines = [line for line in r["motivation"].splitlines() if line.strip()]
        repeated = {line for line in lines if lines.count(line) > 1}
        assert not repeated, (r["name"], repeated)


def _field(abc: str, name: str) -> str:
    match = re.search(rf"(?m)^{name}:(.*)$", abc)
    assert match, name
    return match.group(1).strip()


def test_tempo_key_and_mode_are_the_pieces(records: list[dict]) -> None:
    for r in records:
        abc, text = r["abc"], r["motivation"]
        tempo = int(_field(abc, "Q").split("=")[-1])
        tonic, mode = tonic_and_mode(_field(abc, "K"))
        said = re.search(r" piece in (\S+) (\w+), (\S+), (\d+) bpm\.", text)
        assert said, text[:300]
        assert int(said.group(4)) == tempo, r["name"]
        assert (said.group(1), said.group(2)) == (tonic, mode), r["name"]
        assert said.group(3) == _field(abc, "M"), r["name"]


def test_instruments_and_drums_are_the_pieces(records: list[dict]) -> None:
    for r in records:
        abc, text = r["abc"], r["motivation"]
        programs = [int(p) for p in re.findall(r"(?m)^%%MIDI program (\d+)", abc)]
        played = [instrument(p).name.lower() for p in programs]
        line = re.search(r"(?m)^Instruments: (.*?)(; with drums)?\.$", text)
        assert line, text
        named = [name.strip().lower() for name in line.group(1).split(",")]
        assert "drums" not in named  # said once, by "; with drums"
        assert len(named) == len(set(named)) and set(named) == set(played), r["name"]
        has_drums = bool(re.search(r"(?m)^V:4\b", abc)) and "%%MIDI channel 10" in abc
        assert bool(line.group(2)) == has_drums, r["name"]
