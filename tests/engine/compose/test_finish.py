from __future__ import annotations

import dataclasses
from typing import Any

from engine.compose import chords, form
from engine.compose.abc import MODE_STEPS
from engine.compose.finish import Setting, approach, blue, clashes, lands, resolves, settle


def _c_major(chord: str = "I", **changes: Any) -> Setting:
    """C major in 4/4, one chord for the bar, no colours unless asked."""
    span = form.Span(chords.parse(chord, 0, "major"), 0, 16)
    plain = Setting([[span]], 4, 8, 60, tuple(MODE_STEPS["major"]), True, 0.0, 0.0, 0)
    return dataclasses.replace(plain, **changes)


def test_a_rub_is_a_semitone_from_a_chord_tone_and_a_step_to_one_resolves_it() -> None:
    c_e_g = (0, 4, 7)
    assert clashes(65, c_e_g) and clashes(61, c_e_g) and not clashes(62, c_e_g)
    assert not clashes(64, c_e_g)  # a chord tone
    assert resolves(65, 64, c_e_g) and not resolves(65, 60, c_e_g) and not resolves(65, 62, c_e_g)


def test_a_syncopated_note_counts_at_the_beat_it_anticipates() -> None:
    assert lands(6, 6, 4, 8) == 8  # the and of 2, held over beat 3
    assert lands(6, 2, 4, 8) == 6  # an eighth that ends there
    assert lands(2, 4, 4, 8) == 2  # held over beat 2, not a main beat
    assert lands(4, 4, 4, 8) == 4


def test_settle_moves_a_sour_note_to_a_chord_tone_not_onto_a_neighbour() -> None:
    setting = _c_major()
    # F (65) held three beats over C-E-G: E (64) would repeat the next note, so G (67).
    assert settle(setting, [[(65, 12), (64, 4)]]) == [[(67, 12), (64, 4)]]
    # F for a beat, stepping down to E: an appoggiatura, it stays; leaping away, it moves.
    assert settle(setting, [[(65, 4), (64, 4), (60, 8)]]) == [[(65, 4), (64, 4), (60, 8)]]
    assert settle(setting, [[(65, 4), (60, 4), (64, 8)]])[0][0] == (64, 4)
    # A passing F between beats stays.
    assert settle(setting, [[(64, 2), (65, 2), (67, 4), (60, 8)]])[0][1] == (65, 2)


def test_a_blue_third_never_undoes_an_appoggiatura_s_resolution() -> None:
    setting = _c_major("iii", blue=1.0)  # every falling E would be E flat
    # F leans on E over E-G-B and resolves to it: the E stays, or the F would rub unresolved.
    assert blue(setting, [[(65, 4), (64, 4), (60, 8)]]) == [[(65, 4), (64, 4), (60, 8)]]
    # After a chord tone the same falling E is sung blue.
    assert blue(setting, [[(67, 4), (64, 4), (60, 8)]]) == [[(67, 4), (63, 4), (60, 8)]]
    # Without the style's blue notes, or without a major third, the thirds stay.
    melody = [[(67, 4), (64, 4), (60, 8)]]
    assert blue(_c_major("iii"), melody) == melody
    assert blue(_c_major("iii", blue=1.0, major_third=False), melody) == melody


def test_an_approach_note_leads_into_a_chord_tone_on_the_beat() -> None:
    setting = _c_major(approach=1.0)
    # D (an eighth off the beat) stepping up to E on beat 3 is played D sharp.
    assert approach(setting, [[(60, 4), (60, 2), (62, 2), (64, 8)]]) == [
        [(60, 4), (60, 2), (63, 2), (64, 8)]
    ]
    # From above where the line falls: G to E becomes F to E.
    assert approach(setting, [[(60, 4), (60, 2), (66, 2), (64, 8)]])[0][2] == (65, 2)
    # A note on the beat, a leap, or a rest between: nothing changes.
    for melody in (
        [[(62, 4), (64, 4), (60, 8)]],
        [[(60, 4), (60, 2), (67, 2), (64, 8)]],
        [[(60, 4), (62, 2), (None, 2), (64, 8)]],
    ):
        assert approach(setting, melody) == melody
    assert approach(_c_major(), [[(60, 4), (60, 2), (62, 2), (64, 8)]])[0][2] == (62, 2)
