from __future__ import annotations

import pytest

from engine.compose import harmony
from engine.compose.harmony import (
    Span,
    accompaniment,
    bass_line,
    choose_chords,
    diatonic_chords,
    voice_chord,
)


def test_diatonic_chords_leave_out_diminished() -> None:
    major = diatonic_chords("C", "major")
    assert [c.degree for c in major] == [0, 1, 2, 3, 4, 5]  # no vii°
    assert major[0].pcs == (0, 4, 7) and major[4].pcs == (7, 11, 2)
    assert diatonic_chords("A", "minor")[0].pcs == (9, 0, 4)
    assert harmony.dominant("A", "minor").pcs == (4, 8, 11)  # E major: raised leading tone


def test_chords_follow_melody_and_cadences() -> None:
    # Bars in C major: C-E-G, F-A-c, G-B-d, C.
    bars = [
        [(60, 4), (64, 4), (67, 8)],
        [(65, 4), (69, 4), (72, 8)],
        [(67, 4), (71, 4), (74, 8)],
        [(72, 16)],
    ]
    spans = choose_chords(bars, "C", "major", 16, {3: "final"}, split_bars=False)
    roots = [s[0].chord.root for s in spans]
    assert roots == [0, 5, 7, 0]
    half = choose_chords(bars[:2], "C", "major", 16, {1: "half"}, split_bars=False)
    assert half[1][0].chord.root == 7


def test_voicing_is_close_and_in_the_chord() -> None:
    chord = diatonic_chords("G", "major")[0]
    first = voice_chord(chord, 3, 55, None)
    assert len(first) == 3 and {p % 12 for p in first} == set(chord.pcs)
    assert all(abs(p - 55) <= 12 for p in first)
    nxt = voice_chord(diatonic_chords("G", "major")[3], 3, 55, first)
    assert sum(abs(a - b) for a, b in zip(sorted(first), sorted(nxt), strict=True)) <= 6
    assert len(voice_chord(chord, 1, 55, None)) == 1 and len(voice_chord(chord, 4, 55, None)) == 4


@pytest.mark.parametrize("style", harmony.ACCOMPANIMENTS)
@pytest.mark.parametrize(
    ("bar_len", "compound"), [(16, False), (12, False), (12, True), (8, False), (18, True)]
)
def test_patterns_fill_every_bar(style: str, bar_len: int, compound: bool) -> None:
    chords = diatonic_chords("D", "major")
    spans = [
        [Span(chords[0], 0, bar_len)],
        [Span(chords[3], 0, bar_len // 2), Span(chords[4], bar_len // 2, bar_len - bar_len // 2)],
        [Span(chords[0], 0, bar_len)],
    ]
    for bars in (
        accompaniment(spans, style, bar_len, compound, 3, 55, "D"),
        bass_line(spans, style, bar_len, compound, 43, "D"),
        [harmony.drum_pattern(bar_len, compound, last=i == 2) for i in range(3)],
    ):
        assert len(bars) == 3
        for bar in bars:
            assert sum(length for _, length in bar) == bar_len
            assert all(length > 0 for _, length in bar)
    bass = bass_line(spans, style, bar_len, compound, 43, "D")
    assert all(30 <= p <= 55 for bar in bass for pitches, _ in bar for p in pitches)
