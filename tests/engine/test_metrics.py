from __future__ import annotations

import math

import pytest

from engine.errors import RenderError
from engine.metrics import METRICS, measure

TINY = "X:1\nT:t\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nC D E C | G4 |]\n"


def test_metrics_of_a_tiny_melody_match_hand_computation() -> None:
    m = measure(TINY)
    assert set(m) == set(METRICS)
    assert m["pitch_range"] == 7  # C4..G4
    assert m["n_pitches_used"] == 4 and m["n_pitch_classes_used"] == 4
    assert m["polyphony"] == 1.0
    assert m["scale_consistency"] == 1.0  # all in C major
    # Counts C:2, D:1, E:1, G:1 -> entropy of (0.4, 0.2, 0.2, 0.2) in bits.
    expected = -(0.4 * math.log2(0.4) + 3 * 0.2 * math.log2(0.2))
    assert m["pitch_entropy"] == pytest.approx(expected)
    assert m["pitch_class_entropy"] == pytest.approx(expected)
    assert m["empty_beat_rate"] == 0.0
    # MusPy counts a third, empty measure (the piece ends exactly on a bar line): onsets
    # {0,24,48,72} vs {0} vs {} over 96 steps per bar -> 1 - (3 + 1) / (2 * 96).
    assert m["groove_consistency"] == pytest.approx(1 - 4 / 192)


def test_melody_metrics_ignore_the_accompaniment_but_polyphony_does_not() -> None:
    two = (
        "X:1\nT:t\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nV:1\nC D E C | G4 |]\nV:2\n[C,E,]4 | [C,E,]4 |]\n"
    )
    m = measure(two)
    assert m["pitch_range"] == 7 and m["n_pitches_used"] == 4
    assert m["polyphony"] == pytest.approx(3.0)


def test_rests_make_empty_beats_and_drums_are_ignored() -> None:
    rests = "X:1\nT:t\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nV:1\nC z z z | C4 |]\nV:2\n%%MIDI channel 10\nC,,4 | C,,4 |]\n"
    m = measure(rests)
    # Beats 0..8: beat 1 is touched by the end of the first C; beats 2 and 3 are empty.
    assert m["empty_beat_rate"] == pytest.approx(2 / 9)
    assert m["polyphony"] == 1.0


def test_unparseable_abc_raises_render_error() -> None:
    with pytest.raises(RenderError):
        measure("X:1\nT:nothing\nK:C\n")
