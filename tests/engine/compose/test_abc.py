from __future__ import annotations

from fractions import Fraction

import pytest

from engine.compose.abc import (
    BarSpeller,
    bar_lengths,
    build_header,
    duration_token,
    key_signature,
    melody_notes,
    read_tune,
    tonic_and_mode,
    validate_abc,
)

GOOD = """X:1
T:Test
M:3/4
L:1/8
Q:1/4=90
K:D
V:1
!mf! D2 F2 A2 | d>c B2 (3ABA | [DFA]6 |]
V:2
D,6 | A,,6 | D,6 |]
"""


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("Gm", ("G", "minor")),
        ("E Minor", ("E", "minor")),
        ("A Mixolydian", ("A", "mixolydian")),
        ("Ador", ("A", "dorian")),
        ("D", ("D", "major")),
        ("Bbmaj", ("Bb", "major")),
        ("F#m", ("F#", "minor")),
        ("C clef=bass", ("C", "major")),
        ("Hp", ("A", "mixolydian")),
        ("none", ("C", "major")),
    ],
)
def test_tonic_and_mode(field: str, expected: tuple[str, str]) -> None:
    assert tonic_and_mode(field) == expected


def test_key_signatures() -> None:
    def altered(tonic: str, mode: str) -> dict[str, int]:
        return {k: v for k, v in key_signature(tonic, mode).items() if v}

    assert altered("D", "major") == {"F": 1, "C": 1}
    assert altered("F", "major") == {"B": -1}
    assert altered("A", "dorian") == {"F": 1}  # the notes of G major
    assert altered("G", "minor") == {"B": -1, "E": -1}
    assert altered("Eb", "major") == {"B": -1, "E": -1, "A": -1}
    assert len(altered("C#", "major")) == 7 and set(altered("C#", "major").values()) == {1}


def test_speller_writes_octaves_and_keeps_accidentals_within_the_bar() -> None:
    s = BarSpeller("D", "major")
    assert [s.note(p) for p in (62, 66, 74, 86, 50, 38)] == ["D", "F", "d", "d'", "D,", "D,,"]
    # F natural, then F sharp again in the same bar: both need explicit accidentals.
    assert [s.note(65), s.note(66), s.note(78)] == ["=F", "^F", "^f"]
    s.new_bar()
    assert s.note(66) == "F"
    # Chromatic notes in a flat key are spelt as raised letters (leading notes).
    assert BarSpeller("G", "minor").note(66) == "^F"


@pytest.mark.parametrize(
    ("sixteenths", "token"), [(2, ""), (4, "2"), (1, "/2"), (3, "3/2"), (6, "3"), (16, "8")]
)
def test_duration_token(sixteenths: int, token: str) -> None:
    assert duration_token(sixteenths) == token


def test_reader_handles_broken_rhythm_tuplets_chords_and_key() -> None:
    tune = read_tune(GOOD)
    assert list(tune.voices) == ["1", "2"]
    assert bar_lengths(GOOD) == {"1": [Fraction(3, 4)] * 3, "2": [Fraction(3, 4)] * 3}
    notes = melody_notes(GOOD)
    # K:D makes F and C sharp; d>c is dotted; (3ABA is a triplet of eighths.
    assert [p for p, _ in notes[:5]] == [62, 66, 69, 74, 73]
    assert notes[3][1] == Fraction(3, 16) and notes[4][1] == Fraction(1, 16)
    assert notes[6][1] == Fraction(1, 12)
    assert tune.voices["1"].bars[2][0].pitches == [62, 66, 69]


def test_good_tune_validates_with_both_parsers() -> None:
    assert validate_abc(GOOD) == []


def test_validate_finds_problems() -> None:
    missing_key = GOOD.replace("K:D\n", "")
    assert any("K:" in p for p in validate_abc(missing_key, parsers=False))
    long_bar = GOOD.replace("D2 F2 A2 |", "D2 F2 A2 B2 |")
    assert any("bar 1" in p for p in validate_abc(long_bar, parsers=False))
    unknown = GOOD.replace("!mf!", "!loudly!")
    assert any("loudly" in p for p in validate_abc(unknown, parsers=False))
    unequal = GOOD.replace("D,6 | A,,6 | D,6 |]", "D,6 | A,,6 |]")
    assert any("different lengths" in p for p in validate_abc(unequal, parsers=False))
    assert validate_abc("") == ["the ABC text is empty"]
    assert validate_abc("this is not music at all")


def test_pickup_bar_is_allowed_only_when_asked() -> None:
    pickup = "X:1\nT:t\nM:2/4\nL:1/8\nK:G\nD | G2 B2 | d4 |]\n"
    assert validate_abc(pickup, parsers=False) == []
    assert validate_abc(pickup, parsers=False, allow_pickup=False)


def test_header_has_key_last() -> None:
    header = build_header(title="T", meter="6/8", tempo=120, tonic="A", mode="dorian")
    lines = header.strip().splitlines()
    assert lines[0] == "X:1" and lines[-1] == "K:Ador"
    assert "Q:1/4=120" in lines and "L:1/8" in lines and "M:6/8" in lines
