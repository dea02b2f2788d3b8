from __future__ import annotations

from engine.render.midi import abc_to_score
from engine.render.perform import perform

EIGHTHS = "X:1\nM:4/4\nL:1/8\nQ:1/4=120\nK:C\nC D E F G A B c|\n"


def test_swing_plays_straight_eighths_long_short() -> None:
    score = abc_to_score(EIGHTHS)
    tpq = score.ticks_per_quarter
    for ratio in (1.5, 2.0):
        notes = perform(score, ratio).tracks[0].notes
        long, short = notes[0].duration, notes[1].duration
        assert abs(long / short - ratio) < 0.05
        assert notes[2].time - notes[0].time == tpq  # the beats stay where they were
    assert perform(score, 1.0).tracks[0].notes[1].time == score.tracks[0].notes[1].time


def test_compound_meters_are_not_swung() -> None:
    score = abc_to_score("X:1\nM:6/8\nL:1/8\nQ:1/4=120\nK:C\nC D E F G A|\n")
    assert [n.time for n in perform(score, 2.0).tracks[0].notes] == [
        n.time for n in score.tracks[0].notes
    ]
