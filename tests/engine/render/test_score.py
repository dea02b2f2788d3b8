from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import engine.render.score as score_module
from engine.errors import RenderError
from engine.render.midi import abc_to_score
from engine.render.score import ScoreImage, render_piano_roll_png, render_score_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pixels(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return np.asarray(image.convert("L"))


def ink(gray: np.ndarray) -> float:
    """Share of dark pixels."""
    return float(np.mean(gray < 128))


def test_engraves_sheet_music_with_abcm2ps(two_voice_abc: str) -> None:
    image = render_score_png(two_voice_abc, max_width=1200)
    assert isinstance(image, ScoreImage)
    assert image.method == "abcm2ps"
    gray = pixels(image.png)
    height, width = gray.shape
    assert width == 1200
    assert 150 < height < 2000  # two staves, five bars
    assert np.median(gray) == 255  # white paper...
    assert 0.005 < ink(gray) < 0.3  # ...with notes on it


def test_title_is_engraved(two_voice_abc: str) -> None:
    plain = pixels(render_score_png(two_voice_abc).png)
    titled = pixels(render_score_png(two_voice_abc, title="A much longer title for the sea").png)
    # The title line is the top of the page; a longer title puts more ink there.
    assert ink(titled[:80]) > ink(plain[:80])


def test_file_reading_directives_never_reach_abcm2ps(two_voice_abc: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.abc"
    secret.write_text("X:9\nT:SECRET SECRET SECRET\nK:C\nCDEF GABc|" * 3)
    sneaky = two_voice_abc.replace(
        "K:G\n", f"K:G\n%%abc-include {secret}\nI:abc-include {secret}\n%%format {secret}\n", 1
    )
    assert np.array_equal(
        pixels(render_score_png(sneaky).png), pixels(render_score_png(two_voice_abc).png)
    )


def test_falls_back_to_a_piano_roll_without_the_tools(
    two_voice_abc: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(score_module, "find_tools", lambda: None)
    image = render_score_png(two_voice_abc, title="Roll", max_width=1000)
    assert image.method == "piano-roll"
    gray = pixels(image.png)
    assert gray.shape[1] == 1000
    assert ink(gray) > 0.005


def test_falls_back_when_abcm2ps_fails(two_voice_abc: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(score_module, "find_tools", lambda: "/bin/false")
    assert render_score_png(two_voice_abc).method == "piano-roll"


def test_piano_roll_colours_each_track(two_voice_abc: str, drum_abc: str) -> None:
    png = render_piano_roll_png(abc_to_score(two_voice_abc), width=800, height=400)
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (800, 400)
        rgb = np.asarray(image.convert("RGB")).reshape(-1, 3)
    colours = {tuple(c) for c in score_module.PALETTE[:2]}
    present = {tuple(c) for c in np.unique(rgb, axis=0)}
    assert colours <= present
    assert render_piano_roll_png(abc_to_score(drum_abc)).startswith(PNG_MAGIC)


@pytest.mark.parametrize("abc", ["", "not music", "X:1\nT:empty\nK:C\n"])
def test_nothing_to_draw_raises_render_error(abc: str) -> None:
    with pytest.raises(RenderError):
        render_score_png(abc)


def _safe_abc_voices(abc: str) -> str:
    """The pitched voices of the safe (engraving) ABC, from V:1 to the drum voice."""
    safe = score_module._safe_abc(abc, None)
    return "V:1" + safe.split("V:1", 1)[1].split("V:4")[0]


def _without_clefs(abc: str) -> str:
    return re.sub(r" clef=\S+", "", abc)


def _drum_voice(abc: str) -> str:
    """The engraving copy's drum voice: its V: line to the next V: line."""
    start = abc.index('V:4 name="Drums"')
    end = abc.find("\nV:", start + 1)
    return abc[start : end if end > 0 else len(abc)]


@pytest.mark.parametrize("genre", ["folk", "rock", "jazz", "waltz", "electronic", "funk"])
def test_drums_are_engraved_on_a_percussion_staff(genre: str) -> None:
    from engine.compose.markov import MarkovComposer
    from tests.engine.compose.conftest import corpus_tunes, make_brief

    meter = "3/4" if genre == "waltz" else "4/4"
    brief = make_brief(genre=genre, drums=True, meter=meter)
    abc = MarkovComposer().compose(brief, corpus_tunes("oneills1850/0001-0050.abc", 5), 3).abc
    engraved = score_module.engraving_abc(abc)
    drums = _drum_voice(engraved)
    head, body = drums.split("\n", 1)
    assert "clef=perc" in head and f"map={score_module.DRUM_MAP}" in head
    assert body.startswith("K:none")  # no key signature on the drum staff
    notes = re.sub(r'![^!]*!|"[^"]*"', "", body.split("\n", 1)[1])
    assert not re.search(r"[_=^]", notes)  # no accidentals: the drums sit on plain notes
    # Hi-hat (g) or ride (f) keeps time in every style: a cymbal, so x noteheads.
    assert re.search(rf"%%map {score_module.DRUM_MAP} \S+ print=[gf] heads=pshhd", engraved)
    # The pitched voices keep their notes (each gets a clef): the drum voice is rewritten.
    assert _without_clefs(engraved.split("V:4")[0]).endswith(_safe_abc_voices(abc))
    image = render_score_png(abc)
    assert image.method == "abcm2ps"
    gray = pixels(image.png)
    assert gray.shape[1] == 1600 and 0.005 < ink(gray) < 0.3


def test_drum_keys_sit_at_drum_kit_places() -> None:
    abc = (
        'X:1\nT:t\nM:4/4\nL:1/8\nK:D\nV:1 name="Piano"\nDEFG ABcd |]\nV:4 name="Drums"\n'
        "%%MIDI channel 10\n!mf! [=C,,^F,,]2 [=D,,^F,,]2 [^C,,^A,,]2 [^D,,^F,,]2 |]\n"
    )
    engraved = score_module.engraving_abc(abc)
    body = _drum_voice(engraved).split("\n")[2]
    kick, snare = "F", "c"
    assert body.startswith(f"!mf! [{kick}g]2 [{snare}g]2 ")
    # Side stick shares the snare's place, so it is written on a spare note that %%map prints
    # there with an x; the open hi-hat on another, printed at g with a circled x.
    spare = re.search(r"%%map pictune-drums (\S+) print=c heads=pshhd", engraved)
    assert spare and spare.group(1) in body
    assert re.search(r"%%map pictune-drums \S+ print=g heads=pfthd", engraved)
    # Only the drum voice's notes change; the piano is given its clef.
    assert 'V:1 name="Piano" clef=treble\nDEFG ABcd |]' in engraved
    assert _without_clefs(score_module.engraving_abc(abc.split("V:4")[0])) == (
        score_module._safe_abc(abc.split("V:4")[0], None)
    )


def test_a_long_piece_is_stacked_pages_not_smaller_notes() -> None:
    from engine.compose.markov import MarkovComposer
    from tests.engine.compose.conftest import corpus_tunes, make_brief

    brief = make_brief(genre="rock", drums=True, duration=120.0)
    abc = MarkovComposer().compose(brief, corpus_tunes("oneills1850/0001-0050.abc", 5), 1).abc
    image = render_score_png(abc)
    assert image.method == "abcm2ps"  # -g's single SVG overflowed abcm2ps's buffer here
    gray = pixels(image.png)
    assert gray.shape[1] == 1600
    assert 2 * 2000 < gray.shape[0] <= score_module.MAX_HEIGHT


def test_falls_back_to_a_piano_roll_when_svg_cannot_be_drawn(
    two_voice_abc: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(score_module.svg, "available", lambda: False)
    assert render_score_png(two_voice_abc).method == "piano-roll"


def test_each_pitched_voice_keeps_one_clef_by_its_register() -> None:
    abc = (
        "X:1\nM:4/4\nL:1/4\nK:A\n"
        'V:1 name="Flute"\nc e a e | c4 |]\n'
        'V:2 name="Guitar"\n%%MIDI program 25\n[A,,E,A,] [A,,E,A,] [CEA] [A,,E,A,] | [A,,E,A,]4 |]\n'
        'V:3 name="Viola" clef=alto\nA, C E C | A,4 |]\n'
        'V:4 name="Drums"\n%%MIDI channel 10\nC, ^F, D, ^F, | C,4 |]\n'
        'V:5 name="Cello"\n%%MIDI program 42\n[A,,E,A,] [A,,E,A,] [CEA] [A,,E,A,] | [A,,E,A,]4 |]\n'
    )
    heads = {
        line.split()[0]: line
        for line in score_module.engraving_abc(abc).splitlines()
        if line.startswith("V:")
    }
    assert heads["V:1"].endswith("clef=treble")  # around A4
    # A low part, once or twice higher: a cello's bass clef, a guitar's treble clef with an
    # 8 under it, the notes written an octave above where they sound.
    assert heads["V:5"].endswith("clef=bass")
    assert heads["V:2"].endswith("clef=treble-8 octave=1")
    assert heads["V:3"].count("clef=") == 1 and "clef=alto" in heads["V:3"]  # its own
    assert "clef=perc" in heads["V:4"] and "clef=bass" not in heads["V:4"]


def _piano_trio(chords: str, bass_program: int = 0) -> str:
    """A melody, chords and bass: all on one piano unless ``bass_program`` says otherwise."""
    return (
        "X:1\nT:t\nM:4/4\nL:1/4\nK:C\n"
        'V:1 name="Piano"\n%%MIDI program 0\n!mp! c e g e | c4 |]\n'
        f'V:2 name="Piano"\n%%MIDI program 0\n!p! {chords} {chords} {chords} {chords} | {chords}4 |]\n'
        f'V:3 name="Piano"\n%%MIDI program {bass_program}\n!p! C,, G,, C,, G,, | C,,4 |]\n'
    )


def _heads(engraved: str) -> dict[str, str]:
    return {line.split()[0]: line for line in engraved.splitlines() if line.startswith("V:")}


def test_one_pianist_s_voices_are_engraved_on_a_grand_staff() -> None:
    """A solo piano was three staves (melody, chords, bass); a pianist reads two joined by
    a brace: low chords join the bass in the left hand, chords in the treble the melody."""
    low = score_module.engraving_abc(_piano_trio("[C,E,G,]"))
    assert "%%score {1 | (2 3)}" in low.splitlines()
    heads = _heads(low)
    assert heads["V:1"] == 'V:1 name="Piano" clef=treble'  # the name once, at the brace
    assert heads["V:2"] == "V:2 clef=bass" and heads["V:3"] == "V:3 clef=bass"
    # One dynamic a staff: the bass opens with the chords' p on the left hand's staff.
    assert "\n!p! [C,E,G,]" in low and "\nC,, G,, C,, G,, |" in low
    high = score_module.engraving_abc(_piano_trio("[ceg]"))
    assert "%%score {(1 2) | 3}" in high.splitlines()
    assert _heads(high)["V:2"] == "V:2 clef=treble"
    # The notes are the same (the MIDI and audio come from the ABC itself, not this copy).
    assert _notes(low) == _notes(_piano_trio("[C,E,G,]"))


def _notes(abc: str) -> list[str]:
    """The lines of notes, without their dynamics."""
    lines = [re.sub(r"![a-z]+! ", "", line) for line in abc.splitlines()]
    return [line for line in lines if line and not re.match(r"[A-Za-z]:|%", line)]


def test_a_keyboard_duo_is_braced_and_other_parts_keep_their_staves() -> None:
    duo = (
        "X:1\nM:4/4\nL:1/4\nK:C\n"
        'V:1 name="Flute"\n%%MIDI program 73\nc e g e | c4 |]\n'
        'V:2 name="Piano"\n%%MIDI program 0\n[ceg] [ceg] [ceg] [ceg] | [ceg]4 |]\n'
        'V:3 name="Piano"\n%%MIDI program 0\nC, G, C, G, | C,4 |]\n'
        'V:4 name="Drums"\n%%MIDI channel 10\nC, ^F, D, ^F, | C,4 |]\n'
    )
    engraved = score_module.engraving_abc(duo)
    assert "%%score 1 {2 | 3} 4" in engraved.splitlines()
    assert "clef=perc" in _heads(engraved)["V:4"]
    # Two players on one program that is not read on a grand staff (a string section), a
    # piano over a double bass, and a score laid out by its own %%score: left as they were.
    strings = duo.replace("program 0", "program 48")
    assert "%%score" not in score_module.engraving_abc(strings)
    melody_and_chords = score_module.engraving_abc(_piano_trio("[C,E,G,]", bass_program=32))
    assert "%%score {1 | 2} 3" in melody_and_chords.splitlines()  # the pianist's two hands
    own = duo.replace("K:C\n", "%%score 1 2 3 4\nK:C\n")
    assert score_module.engraving_abc(own).count("%%score") == 1


def test_a_solo_piano_picture_has_two_staves_a_system_not_three() -> None:
    solo = render_score_png(_piano_trio("[C,E,G,]"))
    apart = render_score_png(_piano_trio("[C,E,G,]", bass_program=32))
    assert solo.method == apart.method == "abcm2ps"
    assert pixels(solo.png).shape[0] < 0.9 * pixels(apart.png).shape[0]
