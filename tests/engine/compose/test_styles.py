"""Every style record is complete and playable: its figures, grooves and chords exist, its
instruments can play their parts."""

from __future__ import annotations

import pytest

from engine.bridge.hints import parse_hint
from engine.compose import chords, patterns
from engine.compose.instruments import BY_PROGRAM
from engine.compose.styles import GENRES, PICTURE_GENRES, STYLES, style_for

REQUIRED = ("folk", "classical", "ambient", "jazz", "pop", "cinematic", "electronic", "rock")


def test_the_genres_the_bridge_chooses_and_those_a_hint_asks_for_are_styles() -> None:
    assert set(REQUIRED) == set(PICTURE_GENRES) <= set(GENRES)
    for word in ("funk", "blues", "lullaby", "waltz"):
        assert parse_hint(word).genre == word in STYLES
    assert style_for("no such genre").name == "folk"


@pytest.mark.parametrize("name", GENRES)
def test_a_style_is_complete(name: str) -> None:
    style = STYLES[name]
    low, high = style.tempo
    assert 40 <= low < high <= 200
    assert style.meters and all(m in patterns.METER_KEYS for m in style.meters)
    for mode, table in (("major", style.major), ("minor", style.minor)):
        assert table
        for progression in table:
            assert chords.progression(progression, 0, mode)
        for cadence in (style.cadences.half, style.cadences.tonic, style.cadences.final):
            assert chords.progression(cadence, 0, mode)
    for figure in style.comping:
        assert figure in patterns.COMPING
        assert all(
            len(patterns.COMPING[figure][m]) == patterns.meter_sixteenths(m) for m in style.meters
        )
    for figure in style.bass:
        assert figure in patterns.BASS
    for groove in style.grooves:
        written = patterns.GROOVES[groove]
        for meter in style.meters:
            if meter in written:
                assert all(
                    len(v) == patterns.meter_sixteenths(meter) for v in written[meter].values()
                )
                assert set(written[meter]) <= set(patterns.DRUMS)
    assert style.fill in patterns.FILLS
    for palette in style.palettes:
        for program in (palette.melody, palette.chords, palette.bass, palette.duo, palette.solo):
            assert program in BY_PROGRAM
        # Whoever plays a bass line can: a bass, or a keyboard, harp or strings (left hand).
        assert BY_PROGRAM[palette.bass].bass and BY_PROGRAM[palette.duo].bass
    assert 1.0 <= style.swing <= 2.2


def test_only_styles_that_have_drums_play_them_from_the_picture() -> None:
    for name in ("ambient", "classical", "lullaby"):
        assert not STYLES[name].has_drums and STYLES[name].drum_threshold is None
    for name in ("rock", "electronic", "funk"):
        assert STYLES[name].drum_threshold == 0.0  # these always have their beat
