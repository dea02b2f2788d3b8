from __future__ import annotations

import itertools
import random
import re

import pytest

from engine.compose import arrange, patterns
from engine.compose.chords import parse
from engine.compose.form import Span, plan_harmony, plan_sections
from engine.compose.instruments import instrument
from engine.compose.styles import GENRES, STYLES


def _arrangement(
    genre: str,
    meter: str = "4/4",
    seconds: float = 30.0,
    players: tuple[int, int] | None = None,
    register: int = 67,
):
    style = STYLES[genre]
    bar_len = patterns.meter_sixteenths(meter)
    compound = meter == "6/8"
    sections, _ = plan_sections(seconds, 110, bar_len / 4, style)
    harmony = plan_harmony(sections, style, 7, "major", bar_len, random.Random(3))
    palette = style.palettes[0]
    chords_program, bass_program = players or (palette.chords, palette.bass)
    band = arrange.band(
        instrument(chords_program), instrument(bass_program), register, style.bass_floor
    )
    acc = arrange.accompaniment(harmony, sections, style, band, bar_len, compound).bars
    bass = arrange.bass_line(harmony, sections, style, band, bar_len, compound)
    drums = arrange.drums(sections, style, bar_len, compound, len(harmony))
    return style, band, sections, harmony, acc, bass, drums, bar_len


@pytest.mark.parametrize("genre", GENRES)
@pytest.mark.parametrize("meter", ["4/4", "3/4", "6/8", "2/4"])
def test_every_voice_fills_its_bars_inside_its_instrument(genre: str, meter: str) -> None:
    _, band, _, harmony, acc, bass, drums, bar_len = _arrangement(genre, meter)
    for voice, inst in ((acc, band.chords), (bass, band.bass), (drums, None)):
        assert len(voice) == len(harmony)
        for bar in voice:
            assert sum(n for _, n in bar) == bar_len
            if inst is not None:
                assert all(inst.low <= p <= inst.high for pitches, _ in bar for p in pitches)


def test_sections_change_the_texture_and_drums_fill_into_each_phrase() -> None:
    style, _, sections, _, acc, _, drums, _ = _arrangement("pop", seconds=40.0)
    rhythm = [tuple(n for _, n in bar) for bar in acc]
    a = next(s for s in sections if s.letter == "A")
    b = next(s for s in sections if s.letter == "B")
    assert rhythm[a.start] != rhythm[b.start]
    toms = {patterns.DRUMS[d] for d in ("tom_hi", "tom_mid", "floor")}
    for s in sections[1:]:
        before = drums[s.start - 1]
        assert any(p in toms for pitches, _ in before for p in pitches)  # a fill leads in
        assert patterns.DRUMS["crash"] in drums[s.start][0][0]  # a crash opens the phrase


def test_jazz_walks_swings_on_the_ride_and_rock_plays_power_chords() -> None:
    _, _, _, _, acc, bass, drums, _ = _arrangement("jazz")
    notes = [p for bar in bass[1:-1] for pitches, _ in bar for p in pitches]
    assert all(n == 4 for bar in bass[:-1] for _, n in bar)  # a note on every beat
    steps = [abs(a - b) for a, b in zip(notes, notes[1:], strict=False)]
    assert sum(1 <= s <= 2 for s in steps) / len(steps) >= 0.6
    hits = [p for bar in drums for pitches, _ in bar for p in pitches]
    assert hits.count(patterns.DRUMS["ride"]) / len(hits) >= 0.3
    _, _, _, harmony, acc, _, _, _ = _arrangement("rock")
    chords = [set(p % 12 for p in pitches) for bar in acc for pitches, _ in bar if pitches]
    assert all(len(c) == 2 for c in chords)  # root and fifth


def test_walking_bass_approaches_the_next_root_by_half_step() -> None:
    c, f = parse("I", 0, "major"), parse("IV", 0, "major")
    line = arrange.walking_bass([Span(c, 0, 16)], f, 16, instrument(32), 45, None)
    pitches = [pitches[0] for pitches, _ in line]
    assert pitches[0] % 12 == 0 and abs(pitches[-1] % 12 - 5) in (1, 11)


def test_a_returning_phrase_gets_the_fill_s_last_beat_and_a_new_section_all_of_it() -> None:
    _, _, sections, _, _, _, drums, bar_len = _arrangement("pop", seconds=40.0)
    snare = patterns.DRUMS["snare"]

    def snare_onsets(bar: list[arrange.Event]) -> list[int]:
        onsets, t = [], 0
        for pitches, n in bar:
            if snare in pitches:
                onsets.append(t)
            t += n
        return onsets

    groove = snare_onsets(drums[sections[1].start + 1])  # a plain bar of the A groove
    for before, after in itertools.pairwise(sections[1:]):
        fill_bar = snare_onsets(drums[after.start - 1])
        early = [t for t in fill_bar if t < bar_len - 4]
        if after.letter == before.letter:
            assert early == [t for t in groove if t < bar_len - 4]  # the groove runs on
        else:
            assert early != [t for t in groove if t < bar_len - 4]  # the fill starts earlier


def test_the_accompaniment_breathes_at_each_phrase_end() -> None:
    _, _, sections, _, acc, _, _, bar_len = _arrangement("pop", seconds=40.0)
    for s in sections[1:-1]:
        last = acc[s.start + s.bars - 1]
        held = last[-1]
        assert held[0] and held[1] == bar_len // 2  # one chord held through the second half
        assert [n for _, n in acc[s.start]] != [n for _, n in last]
    assert arrange._breathe("C---------------") == "C---------------"  # a pad already holds


def test_the_comping_answers_itself_every_second_bar_of_a_phrase() -> None:
    # A broken chord turns around, the same rhythm; a held figure is left alone.
    assert arrange._answer("1-5-8---3-5-8---", False) == ("8-5-3---8-5-1---", False)
    assert arrange._answer("C---------------", True) == ("C---------------", False)
    # Where the style pushes, a chord comes in on the last eighth: the next bar's chord.
    assert arrange._answer("C---C---C---C---", True) == ("C---C---C---C-C-", True)
    assert arrange._answer("C---C---C---C---", False) == ("C---C---C---C---", False)
    _, _, sections, harmony, acc, _, _, bar_len = _arrangement("pop")
    pushed = 0
    for section in sections:
        if section.letter == "intro":
            continue
        for bar in range(section.start + 1, section.start + section.bars - 1, 2):
            onset = bar_len - sum(n for _, n in acc[bar][-1:])
            assert onset == bar_len - 2  # the push: an eighth before the bar line
            following = harmony[bar + 1][0].chord
            assert {p % 12 for p in acc[bar][-1][0]} <= set(following.pcs)
            pushed += 1
    assert pushed >= 3
    assert STYLES["pop"].pushes and not STYLES["classical"].pushes


def test_a_pushed_chord_is_held_over_the_bar_line_not_struck_again() -> None:
    style = STYLES["pop"]
    bar_len = patterns.meter_sixteenths("4/4")
    sections, _ = plan_sections(30.0, 110, bar_len / 4, style)
    harmony = plan_harmony(sections, style, 7, "major", bar_len, random.Random(3))
    palette = style.palettes[0]
    band = arrange.band(instrument(palette.chords), instrument(palette.bass), 67)
    comp = arrange.accompaniment(harmony, sections, style, band, bar_len, False)
    assert len(comp.tied) >= 3
    for bar in comp.tied:
        pushed, held = comp.bars[bar - 1][-1], comp.bars[bar][0]
        assert pushed[1] == 2 and held[0] == pushed[0]  # the last eighth's chord holds on


@pytest.mark.parametrize("players", [(46, 46), (46, 42), (0, 0)])  # harp, harp and cello, piano
@pytest.mark.parametrize("register", [55, 67, 79])
def test_a_lullaby_s_bass_sits_around_c3_under_its_chords(
    players: tuple[int, int], register: int
) -> None:
    """Two octaves under the melody, a harp's bass went down to G1-D2: a rumble under a
    cradle song. A lullaby's bass stays around C3, and the chords over it."""
    _, band, _, _, acc, bass, _, bar_len = _arrangement("lullaby", "3/4", 40.0, players, register)
    lows = [p for bar in bass for pitches, _ in bar for p in pitches]
    assert min(lows) >= 43 and 45 <= sorted(lows)[len(lows) // 2] <= 55  # G2 up, around C3
    for chords_bar, bass_bar in zip(acc, bass, strict=True):
        for onset, pitches in _sounding(chords_bar):
            under = [p for start, ps in _sounding(bass_bar) if start <= onset for p in ps]
            assert not under or min(pitches) >= under[-1]  # the bass is the lowest voice
    assert bass[-1][0][0][0] % 12 == 7  # the last tonic (G major) over its root
    assert all(band.chords.low <= p <= band.chords.high for bar in acc for ps, _ in bar for p in ps)


def _sounding(bar: list[arrange.Event]) -> list[tuple[int, tuple[int, ...]]]:
    """(onset, pitches) of a bar's notes, rests left out."""
    out, onset = [], 0
    for pitches, length in bar:
        if pitches:
            out.append((onset, pitches))
        onset += length
    return out


@pytest.mark.parametrize("genre", ["electronic", "pop", "funk", "jazz", "ambient"])
def test_a_pad_holds_its_chords_whatever_figure_the_style_gives_them(genre: str) -> None:
    """Off-beat chords, stabs and strums on a halo pad were heard as blips of a sound made
    to hold: a pad strikes each chord where the harmony changes and holds it to the next."""
    _, _, _, harmony, acc, _, _, _ = _arrangement(genre, players=(94, 38))
    _, _, _, _, _, pad_bass, _, _ = _arrangement(genre, players=(94, 94))
    for bar, spans in zip(pad_bass, harmony, strict=True):  # its left hand holds the roots
        assert [onset for onset, _ in _sounding(bar)] == [s.start for s in spans]
        assert all(pitches for pitches, _ in bar)
    broken = False
    for bar, spans in zip(acc, harmony, strict=True):
        if any(len(pitches) == 1 for pitches, _ in bar):
            broken = True  # a broken-chord figure (ambient's arpeggio): single notes, kept
            continue
        assert all(pitches for pitches, _ in bar), bar  # no rest between the chords
        onsets = [onset for onset, _ in _sounding(bar)]
        assert onsets == [s.start for s in spans]
    assert broken == (genre == "ambient")
    # A style's own chords are a pad's only where its figures hold them.
    for style in STYLES.values():
        stabs = any(
            re.search(r"C-*\.", patterns.COMPING[name].get("4/4", "")) for name in style.comping
        )
        chords_players = {palette.chords for palette in style.palettes}
        assert not (stabs and any(instrument(p).sustained for p in chords_players)), style.name
