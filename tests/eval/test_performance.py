from __future__ import annotations

import math

import pytest
import symusic

from engine.render.midi import abc_to_score
from eval.performance import (
    MIN_SWING_PAIRS,
    measure_performance,
    onset_deviations_ms,
    ritardando,
    targets,
)

TUNE = (
    "X:1\nM:4/4\nL:1/8\nQ:1/4=100\nK:C\nV:1\n%%MIDI program 0\n"
    + " | ".join(["c d e f g a b c'"] * 12)
    + " |]\nV:2\n%%MIDI program 0\n"
    + " | ".join(["[CEG]4 [FAc]4"] * 12)
    + " |]\nV:3\n%%MIDI program 32\n"
    + " | ".join(["C,2 G,,2 C,2 G,,2"] * 12)
    + " |]\n"
)


def test_a_performed_piece_meets_its_targets() -> None:
    m = measure_performance(TUNE, "jazz", 7)
    assert m["distinct_velocities"] >= 8
    assert m["bar_velocity_std"] >= 6
    assert 5 <= m["onset_ms"] <= 15
    assert 0.05 <= m["ritardando"] <= 0.15
    assert m["swing_ratio"] == pytest.approx(1.8, abs=0.15)
    assert m["pedal_tracks"] == m["piano_tracks"] == 2 and m["stray_pedals"] == 0
    assert m["mixed_tracks"] == 1.0
    assert math.isnan(measure_performance(TUNE, "rock", 7)["swing_ratio"])


def test_onsets_and_ritardando_are_measured_on_the_tempo_map() -> None:
    score = abc_to_score(TUNE)
    moved = score.copy()
    for note in moved.tracks[0].notes:
        note.time += 10  # 10 ticks at 100 bpm, 480 a quarter: 12.5 ms late
    dev = onset_deviations_ms(score, moved)
    assert max(dev) == pytest.approx(12.5, abs=0.1) and min(dev) == 0.0
    beat, bar = score.tpq, 4 * score.tpq
    assert ritardando(score, beat, 11, bar) == pytest.approx(0.0)
    slowed = score.copy()
    slowed.tempos.append(symusic.Tempo(11 * bar, 100 / 1.1))
    assert ritardando(slowed, beat, 11, bar) == pytest.approx(0.1, abs=1e-6)


# A piece that meets every performance target.
PLAYED = {
    "distinct_velocities": 12.0,
    "bar_velocity_std": 7.0,
    "onset_ms": 8.0,
    "ritardando": 0.1,
    "swing_ratio": 1.8,
    "style_swing": 1.8,
    "pedal_tracks": math.nan,
    "piano_tracks": 0.0,
    "stray_pedals": 0.0,
    "mixed_tracks": 1.0,
    "lufs": -16.0,
    "true_peak": -1.5,
}


def test_targets_fail_where_a_piece_is_played_flat() -> None:
    flat = PLAYED | {
        "distinct_velocities": 3.0,
        "bar_velocity_std": 0.0,
        "onset_ms": 0.0,
        "ritardando": 0.0,
        "swing_ratio": math.nan,
        "style_swing": math.nan,
        "mixed_tracks": 0.0,
        "lufs": -20.0,
        "true_peak": -0.5,
    }
    met = {name: ok for name, _, ok in targets([flat])}
    assert not any(ok for name, ok in met.items() if "pedal" not in name and "spread" not in name)
    assert all(
        ok for name, ok in {n: ok for n, _, ok in targets([PLAYED])}.items() if ok is not None
    )


def test_swing_is_judged_on_the_pieces_that_play_enough_eighth_pairs() -> None:
    row = PLAYED
    few = {**row, "swing_ratio": math.nan}  # swung, but fewer than MIN_SWING_PAIRS pairs
    off = {**row, "swing_ratio": 1.5}
    swing = {name: (shown, ok) for name, shown, ok in targets([row, few])}
    shown, ok = swing["swing ratio within 0.15 of the style's"]
    assert ok and "1 of 2 swung pieces" in shown and str(MIN_SWING_PAIRS) in shown
    assert not {n: ok for n, _, ok in targets([row, off])}["swing ratio within 0.15 of the style's"]
