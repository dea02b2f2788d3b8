from __future__ import annotations

from engine.render.midi import abc_to_score
from engine.render.parts import split_notes, unit_of
from tests.engine.render.tunes import BAND_ABC


def test_the_notes_are_shared_whole_per_pitch_and_drum_group() -> None:
    score = abc_to_score(BAND_ABC)
    parts = split_notes(score, 2)
    for index, track in enumerate(score.tracks):
        units = {unit_of(n.pitch, track.is_drum) for n in track.notes}
        assert {(index, u) for u in units} <= parts.keys()
    # The closed (42) and open (46) hi-hat silence each other: one unit, so one synth.
    drums = next(i for i, t in enumerate(score.tracks) if t.is_drum)
    assert unit_of(42, True) == unit_of(46, True)
    assert unit_of(42, False) != unit_of(46, False)
    # An instrument with many pitches is shared between the synths, not given to one.
    for index, track in enumerate(score.tracks):
        if index != drums and len({n.pitch for n in track.notes}) > 3:
            assert {parts[(index, n.pitch)] for n in track.notes} == {0, 1}
    assert split_notes(score, 2) == parts  # the score alone decides
