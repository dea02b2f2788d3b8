from __future__ import annotations

import random

import pytest

from engine.compose.form import plan_harmony, plan_sections
from engine.compose.styles import STYLES


@pytest.mark.parametrize("duration", [8.0, 30.0, 60.0, 120.0])
def test_whole_phrases_more_sections_for_longer_pieces_and_the_opening_returns(
    duration: float,
) -> None:
    sections, phrase = plan_sections(duration, 100, 4.0, STYLES["pop"])
    body = [s for s in sections if s.letter != "intro"]
    assert all(s.bars == phrase for s in body)
    assert body[0].letter == body[-1].letter == "A" and body[-1].cadence == "final"
    total = sum(s.bars for s in sections)
    assert abs(total * 4.0 * 60 / 100 - duration) <= max(0.25 * duration, 2 * phrase * 2.4)
    starts = [s.start for s in sections]
    assert starts == sorted(starts) and starts[0] == 0
    if duration >= 30:
        assert sections[0].letter == "intro" and len({s.letter for s in body}) >= 2
    long, _ = plan_sections(120.0, 100, 4.0, STYLES["pop"])
    assert len({s.letter for s in long}) >= len({s.letter for s in sections})


def test_cadences_end_the_phrases_and_sections_change_progression() -> None:
    style = STYLES["pop"]
    sections, _ = plan_sections(40.0, 110, 4.0, style)
    harmony = plan_harmony(sections, style, 0, "major", 16, random.Random(1))
    assert len(harmony) == sum(s.bars for s in sections)
    for s in sections:
        last = harmony[s.start + s.bars - 1][-1].chord
        if s.cadence in ("final", "tonic"):
            assert last.root == 0
        elif s.cadence == "half":
            assert last.root == 7
    a = [harmony[s.start][0].chord for s in sections if s.letter == "A"]
    b = [harmony[s.start][0].chord for s in sections if s.letter == "B"]
    assert b and a[0] == a[-1]  # the opening's chords come back


def test_the_blues_runs_its_twelve_bars_across_phrases() -> None:
    style = STYLES["blues"]
    sections, _ = plan_sections(60.0, 100, 4.0, style)
    harmony = plan_harmony(sections, style, 0, "major", 16, random.Random(0))
    start = next(s.start for s in sections if s.letter != "intro")
    roots = [bar[0].chord.root for bar in harmony[start : start + 12]]
    assert roots == [0, 5, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7]
    assert all(bar[0].chord.seventh is not None for bar in harmony[start:])


@pytest.mark.parametrize(
    ("seconds", "choruses"),
    [(22.0, [8]), (30.0, [12]), (41.0, [8, 8]), (50.0, [12, 8]), (60.0, [12, 12])],
)
def test_the_blues_plays_whole_choruses(seconds: float, choruses: list[int]) -> None:
    # At 100 bpm a 22 s piece has room for eight bars: the eight-bar blues, not the first
    # eight of twelve; longer pieces play whole twelve- and eight-bar choruses.
    style = STYLES["blues"]
    sections, _ = plan_sections(seconds, 100, 4.0, style)
    harmony = plan_harmony(sections, style, 0, "major", 16, random.Random(0))
    start = next(s.start for s in sections if s.letter != "intro")
    roots = [bar[0].chord.root for bar in harmony[start:]]
    assert len(roots) == sum(choruses)
    twelve = [0, 5, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7]
    eight = [0, 7, 5, 5, 0, 7, 0, 7]
    expected = [r for n in choruses for r in (twelve if n == 12 else eight)]
    expected[-2:] = [7, 0]  # the final cadence: V7 I7
    assert roots == expected
