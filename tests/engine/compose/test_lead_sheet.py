"""Lead sheets: a single-voice tune read into bars, chords and sections, then arranged."""

from __future__ import annotations

from fractions import Fraction

import pytest

from engine.compose import chords
from engine.compose.abc import read_tune, validate_abc
from engine.compose.form import chord_at
from engine.compose.lead_sheet import arrange_lead_sheet, parse_symbol, read_lead_sheet
from engine.compose.styles import STYLES

from .conftest import make_brief

WRITTEN = """X:1
T:Red Sky
M:4/4
L:1/8
Q:1/4=90
K:Am
"Am"A2 c2 e2 c2|"G"B2 d2 g4|"F/A"a2 g2 "Dm7"f2 e2|"E7"e8|]"""

# Eight bars in G major without symbols: every beat is a chord tone of G, C or D.
PLAIN = """X:1
T:Plain
M:4/4
L:1/8
Q:1/4=100
K:G
D2|G2 B2 d2 B2|c2 e2 c2 A2|B2 G2 B2 d2|A2 F2 A4|G2 B2 d2 B2|c2 e2 c2 e2|d2 A2 F2 A2|G8|]"""


@pytest.mark.parametrize(
    ("text", "pcs"),
    [
        ("Am", {9, 0, 4}),
        ("G7", {7, 11, 2, 5}),
        ("Cmaj7", {0, 4, 7, 11}),
        ("F#m7b5", {6, 9, 0, 4}),
        ("Bb", {10, 2, 5}),
        ("D5", {2, 9}),
        ("Esus2", {4, 6, 11}),
        ("C/E", {0, 4, 7}),
    ],
)
def test_chord_symbols_are_parsed(text: str, pcs: set[int]) -> None:
    chord = parse_symbol(text)
    assert chord is not None and set(chord.pcs) == pcs
    assert chord.symbol == text.split("/")[0]


@pytest.mark.parametrize("text", ["H7", "Xyz", "Am(b13)", "", "C#m7b5b9"])
def test_unknown_symbols_are_ignored(text: str) -> None:
    assert parse_symbol(text) is None


def test_written_symbols_are_kept_where_they_stand() -> None:
    sheet = read_lead_sheet(WRITTEN, make_brief(genre="folk"))
    names = [[(s.chord.symbol, s.start) for s in bar] for bar in sheet.harmony]
    assert names == [[("Am", 0)], [("G", 0)], [("F", 0), ("Dm7", 8)], [("E7", 0)]]
    assert sheet.tonic == "A" and sheet.mode == "minor" and sheet.written == 4


@pytest.mark.parametrize("genre", ["folk", "classical", "pop", "jazz", "waltz", "ambient"])
def test_fitted_chords_hold_the_strong_beat_notes(genre: str) -> None:
    sheet = read_lead_sheet(PLAIN, make_brief(genre=genre))
    held = total = 0
    for bar, spans in zip(sheet.melody[1:], sheet.harmony[1:], strict=True):
        t = 0
        for pitch, n in bar:
            if pitch is not None and t % 8 == 0:  # beats one and three
                total += 1
                held += pitch % 12 in chord_at(spans, t).pcs
            t += n
    assert held / total >= 0.8, (genre, held, total)


def test_phrases_end_on_the_styles_cadences() -> None:
    style = STYLES["folk"]
    sheet = read_lead_sheet(PLAIN, make_brief(genre="folk"))
    assert sheet.sections[0].letter == "intro"  # the pickup bar
    phrases = sheet.sections[1:]
    assert [(s.start, s.bars, s.cadence) for s in phrases] == [(1, 4, "half"), (5, 4, "final")]
    half = chords.parse(style.cadences.half.split()[-1], 7, "major")
    final = chords.progression(style.cadences.final, 7, "major")
    assert sheet.harmony[4][-1].chord == half  # bar 4 of the first phrase: on the dominant
    assert [bar[-1].chord for bar in sheet.harmony[-3:]] == final


def test_phrases_are_lettered_by_their_rhythm() -> None:
    a = "G2 B2 d2 B2|c2 e2 c2 A2|B2 G2 B2 d2|A2 F2 A4|"
    b = "d4 e4|d4 B4|c4 A4|B8|"
    tune = f"X:1\nT:t\nM:4/4\nL:1/8\nK:G\n{a}{a}{b}{a[:-1]}]"
    sheet = read_lead_sheet(tune, make_brief())
    assert "".join(s.letter for s in sheet.sections) == "AABA"


@pytest.mark.parametrize(
    ("meter", "body"),
    [
        ("4/4", "D2|G2 B2 d2 B2|c2 e2 (3cBA G2|B2 G2 B2 d2|G8|]"),
        ("3/4", "D|G2 B2 d2|c2 e2 A2|B>A G2 B2|G6|]"),
        ("6/8", "D|G2B dBG|c2e A2c|B2G [GB]2d|G3- G3|]"),
        ("2/4", "G2 B2|c2 e2|d2 B2|G4|]"),
    ],
)
@pytest.mark.parametrize("drums", [False, True])
def test_every_voice_fills_the_meter(meter: str, body: str, drums: bool) -> None:
    tune = f"X:1\nT:t\nM:{meter}\nL:1/8\nQ:1/4=100\nK:G\n{body}"
    notes: list[str] = []
    abc = arrange_lead_sheet(tune, make_brief(genre="folk", meter=meter, drums=drums), notes)
    assert validate_abc(abc, allow_pickup=False) == [], abc
    voices = read_tune(abc).voices
    assert sorted(voices) == (["1", "2", "3", "4"] if drums else ["1", "2", "3"])
    bar = read_tune(abc).voices["1"].meter
    assert bar == Fraction(*map(int, meter.split("/")))
    for voice in voices.values():
        assert all(sum(e.length for e in b) == bar for b in voice.bars)
    assert ("%%MIDI channel 10" in abc) is drums


def test_arranged_in_the_briefs_instruments_and_tempo() -> None:
    brief = make_brief(genre="jazz", melody_program=66, harmony_program=0, bass_program=32)
    abc = arrange_lead_sheet(WRITTEN, brief, [])
    assert "T:Red Sky" in abc and "Q:1/4=90" in abc and "K:Am" in abc
    assert [ln for ln in abc.splitlines() if ln.startswith("%%MIDI program")] == [
        "%%MIDI program 66",
        "%%MIDI program 0",
        "%%MIDI program 32",
    ]
    music = "\n".join(line for line in abc.splitlines() if not line.startswith("V:"))
    assert '"' not in music  # no chord symbols left for abc2midi to play a second time


def test_no_melody_is_an_error() -> None:
    with pytest.raises(ValueError):
        read_lead_sheet("X:1\nT:t\nM:4/4\nL:1/8\nK:C\nz8|]", make_brief())
