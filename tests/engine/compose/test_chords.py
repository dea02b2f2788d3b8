from __future__ import annotations

import pytest

from engine.compose import chords
from engine.compose.chords import parse


def test_numerals_follow_the_mode_and_the_marks() -> None:
    assert parse("I", 0, "major").pcs == (0, 4, 7)
    assert parse("IV", 9, "minor").symbol == "Dm"  # iv in A minor, as the mode says
    assert parse("IV", 2, "dorian").symbol == "G"  # the dorian's major IV
    assert parse("V!", 9, "minor").symbol == "E"  # the raised leading note
    assert parse("V!7", 0, "major").symbol == "G7"
    assert parse("Imaj7", 0, "major").symbol == "Cmaj7"
    assert parse("ii7", 0, "major").symbol == "Dm7"
    assert parse("ii7", 9, "minor").symbol == "Bm7b5"
    assert parse("VI!7", 0, "major").symbol == "A7"  # V7 of ii
    assert parse("bVII5", 4, "major").symbol == "D5"
    assert parse("bVI", 0, "major").symbol == "Ab"
    assert parse("Iadd9", 0, "major").symbol == "Cadd9"
    assert parse("Isus2", 0, "major").symbol == "Csus2"
    assert parse("V!9", 0, "major").symbol == "G9"
    assert parse("I6", 0, "major").symbol == "C6"
    with pytest.raises(ValueError):
        parse("VIII", 0, "major")


@pytest.mark.parametrize("token", ["I", "V!7", "ii7", "Imaj7", "IVadd9", "V!9", "vi7", "I6"])
@pytest.mark.parametrize("n_notes", [3, 4])
def test_voicings_keep_the_third_stay_in_range_and_move_little(token: str, n_notes: int) -> None:
    chord = parse(token, 7, "major")
    previous = None
    for centre in (50, 55, 62):
        v = chords.voice(chord, n_notes, 40, 84, centre, previous)
        assert len(v) == n_notes and all(40 <= p <= 84 for p in v)
        assert chord.third in {p % 12 for p in v}
        assert {p % 12 for p in v} <= set(chord.pcs)
        if chord.seventh is not None:
            assert chord.seventh in {p % 12 for p in v}
        previous = v
    # Smooth voice leading: the next chord's voicing moves each voice a few semitones.
    a = chords.voice(parse("ii7", 0, "major"), 4, 40, 84, 58, None)
    b = chords.voice(parse("V!7", 0, "major"), 4, 40, 84, 58, a)
    assert sum(min(abs(p - q) for q in a) for p in b) <= 8


def test_power_chords_have_root_and_fifth_only() -> None:
    v = chords.voice(parse("I5", 4, "major"), 3, 40, 86, 52, None)
    assert {p % 12 for p in v} == {4, 11} and len(v) == 3 and v[0] % 12 == 4
    for centre in range(45, 70, 3):  # on its root wherever it sits
        assert chords.voice(parse("IV5", 4, "major"), 3, 40, 86, centre, v)[0] % 12 == 9


@pytest.mark.parametrize("token", ["ii7", "V!7", "Imaj7", "vii7", "V!9", "I6"])
def test_rootless_voicings_leave_the_root_to_the_bass_and_keep_third_and_seventh(
    token: str,
) -> None:
    chord = parse(token, 0, "major")
    notes = chords.voice(chord, 4, 36, 84, 55, None, rootless=True)
    pcs = {p % 12 for p in notes}
    assert len(notes) == 4 and chord.root not in pcs
    assert chord.third in pcs and chord.seventh in pcs
    assert chords.clear(notes)
    triad = parse("IV", 0, "major")  # no seventh: keeps its root
    assert triad.root in {p % 12 for p in chords.voice(triad, 4, 36, 84, 55, None, rootless=True)}


def test_low_voicings_avoid_muddy_close_intervals() -> None:
    assert not chords.clear((40, 43, 47))  # a minor third on E2: mud
    assert chords.clear((40, 47, 52, 56))  # fifth at the bottom, thirds higher up
    chord = parse("I", 0, "major")
    for centre in (44, 48, 52):
        assert chords.clear(chords.voice(chord, 4, 36, 84, centre, None))
