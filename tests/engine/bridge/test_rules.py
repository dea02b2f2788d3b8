from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from engine.bridge import load_bridge
from engine.bridge.hints import MAX_HINT_CHARS, clean_hint, parse_hint
from engine.bridge.rules import (
    MODE_SHIFT,
    PROGRAM_NAMES,
    RulesBridge,
    fifths_name,
    key_signature,
    name_fifths,
    pitch_name,
    respell,
    scene_phrase,
)
from engine.compose.patterns import COMPING
from engine.compose.styles import STYLES
from engine.config import Settings
from engine.errors import ConfigError, InvalidOption
from engine.image import decode_image
from engine.perceive.analytic import AnalyticPerceiver
from engine.types import MusicBrief, NamedColour, Perception, to_dict
from tests import images as T

BRIDGE = RulesBridge()


def base_perception(**changes: object) -> Perception:
    p = Perception(
        brightness=0.5,
        contrast=0.3,
        saturation=0.4,
        colourfulness=0.4,
        warmth=0.2,
        hue_spread=0.2,
        edge_density=0.2,
        texture=0.2,
        symmetry=0.7,
        light_centre=(0.5, 0.5),
        detail_centre=(0.5, 0.5),
        dominant_colours=[NamedColour("tan", (190, 150, 105), 0.6)],
        caption="A test image.",
    )
    return dataclasses.replace(p, **changes)


def brief(hint: str | None = None, **changes: object) -> MusicBrief:
    return BRIDGE.bridge(base_perception(**changes), hint, 30.0)


def spearman(x: list[float], y: list[float]) -> float:
    def ranks(v: list[float]) -> np.ndarray:
        a = np.asarray(v, dtype=float)
        order = a.argsort(kind="stable")
        r = np.empty(len(a))
        r[order] = np.arange(len(a))
        for value in np.unique(a):  # average ranks of ties
            r[a == value] = r[a == value].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def from_image(data: bytes) -> tuple[Perception, MusicBrief]:
    decoded = decode_image(data)
    p = AnalyticPerceiver().perceive(decoded.image, decoded.info)
    return p, BRIDGE.bridge(p, None, 30.0)


def check_brief(b: MusicBrief) -> None:
    assert 50 <= b.tempo <= 180
    assert 55 <= b.register <= 79
    assert b.mode in MODE_SHIFT
    assert b.meter in ("2/4", "3/4", "4/4", "6/8")
    assert b.accompaniment in COMPING
    assert b.dynamics in ("pp", "p", "mp", "mf", "f", "ff") and 1 <= b.velocity <= 127
    assert 0.0 <= b.density <= 1.0
    for program in (b.melody_program, b.harmony_program, b.bass_program):
        assert 0 <= program <= 127
    assert b.instruments and b.moods and b.genre
    assert b.key[0] in "ABCDEFG" and abs(key_signature(b.key, b.mode)) <= 7
    assert f"{b.key} {b.mode}" in b.description and str(b.tempo) in b.description
    assert b.prompt and len(b.reasons) >= 6
    assert all(r.feature and r.choice for r in b.reasons)


# ---------------------------------------------------------------- the promised mappings


def test_brightness_speeds_up_and_brightens_the_mode() -> None:
    levels = np.linspace(0.05, 0.95, 10)
    briefs = [brief(brightness=float(v)) for v in levels]
    # Within one style the tempo rises with brightness across most of the style's range.
    for genre in ("folk", "jazz", "ambient"):
        tempi = [brief(genre, brightness=float(v)).tempo for v in levels]
        low, high = STYLES[genre].tempo
        assert tempi == sorted(tempi) and tempi[-1] - tempi[0] >= 0.4 * (high - low)
        assert low <= tempi[0] and tempi[-1] <= high
    shifts = [MODE_SHIFT[b.mode] for b in briefs]
    assert shifts == sorted(shifts)
    assert briefs[0].mode in ("minor", "phrygian") and briefs[-1].mode == "major"


def test_warmth_sharpens_the_key_and_warms_the_instruments() -> None:
    briefs = [brief(warmth=float(w)) for w in np.linspace(-1, 1, 9)]
    signatures = [key_signature(b.key, b.mode) for b in briefs]
    assert signatures == sorted(signatures) and signatures[0] < 0 < signatures[-1]
    assert briefs[0].melody_program != briefs[-1].melody_program


def test_colour_makes_it_louder_with_more_instruments_and_drums() -> None:
    briefs = [brief(saturation=float(s), colourfulness=float(s)) for s in np.linspace(0, 1, 9)]
    velocities = [b.velocity for b in briefs]
    assert velocities == sorted(velocities) and velocities[-1] - velocities[0] > 40
    sizes = [len(b.instruments) for b in briefs]
    assert sizes == sorted(sizes) and sizes[0] == 1 and sizes[-1] >= 4
    assert not briefs[0].drums and briefs[-1].drums


def test_texture_makes_it_denser() -> None:
    densities = [
        brief(edge_density=float(v), texture=float(v)).density for v in np.linspace(0, 1, 8)
    ]
    assert densities == sorted(densities) and densities[-1] > densities[0] + 0.5


def test_light_high_in_the_frame_lifts_the_register() -> None:
    registers = [brief(light_centre=(0.5, float(y))).register for y in np.linspace(0, 1, 8)]
    assert registers == sorted(registers, reverse=True) and registers[0] > registers[-1] + 10


def test_symmetry_steadies_the_meter() -> None:
    assert brief(symmetry=0.95).meter in ("4/4", "2/4")
    assert brief(symmetry=0.2).meter in ("3/4", "6/8")


def test_motion_speeds_up() -> None:
    tempi = [brief(motion=float(m)).tempo for m in (0.0, 0.02, 0.1, 0.3)]
    assert tempi == sorted(tempi) and tempi[-1] > tempi[0] + 20


def test_mappings_hold_on_real_pixels() -> None:
    """Through decode and perception, on procedural pictures: rank correlations are high."""
    bright = [
        (v, from_image(T.photo_like(s, brightness=v))[1])
        for s in (0, 1)
        for v in (0.15, 0.4, 0.65, 0.9)
    ]
    assert spearman([v for v, _ in bright], [b.tempo for _, b in bright]) > 0.8
    assert spearman([v for v, _ in bright], [MODE_SHIFT[b.mode] for _, b in bright]) > 0.6
    warm = [
        (v, from_image(T.photo_like(s, warmth=v))[1])
        for s in (0, 1)
        for v in (-0.9, -0.3, 0.3, 0.9)
    ]
    assert spearman([v for v, _ in warm], [key_signature(b.key, b.mode) for _, b in warm]) > 0.8
    tex = [
        (v, from_image(T.photo_like(s, texture=v))[1]) for s in (0, 1) for v in (0.0, 0.3, 0.6, 0.9)
    ]
    assert spearman([v for v, _ in tex], [b.density for _, b in tex]) > 0.8
    light = [
        (v, from_image(T.photo_like(s, light_y=v))[1]) for s in (0, 1) for v in (0.1, 0.4, 0.6, 0.9)
    ]
    assert spearman([v for v, _ in light], [b.register for _, b in light]) < -0.8
    sym = [
        (v, from_image(T.photo_like(s, symmetric=v))[1]) for s in (0, 1, 2) for v in (False, True)
    ]
    assert all((b.meter in ("4/4", "2/4")) == v for v, b in sym)


# ---------------------------------------------------------------- the brief itself


@pytest.mark.parametrize("name", ["tiny_1x1", "wide_8000x20", "animated_gif", "grey16_png"])
def test_briefs_from_unusual_images_are_valid(name: str) -> None:
    check_brief(from_image(T.UNUSUAL[name]())[1])


def test_brief_is_complete_and_serialisable() -> None:
    b = brief()
    check_brief(b)
    assert b.backend == "rules" and b.duration == 30.0 and b.hint is None
    assert MusicBrief.from_dict(json.loads(json.dumps(to_dict(b)))) == b
    assert b.instruments[0] == PROGRAM_NAMES[b.melody_program]


def test_extremes_stay_in_range() -> None:
    for value in (0.0, 1.0):
        check_brief(
            brief(
                brightness=value,
                saturation=value,
                colourfulness=value,
                warmth=2 * value - 1,
                edge_density=value,
                texture=value,
                symmetry=value,
                motion=value,
                light_centre=(value, value),
                contrast=value,
            )
        )


def test_deterministic() -> None:
    assert brief("sad piano") == brief("sad piano")
    p, b = from_image(T.photo_like(11))
    assert BRIDGE.bridge(p, None, 30.0) == b


def test_bad_duration_is_an_invalid_option() -> None:
    for bad in (0, -5, float("nan"), float("inf"), "long"):
        with pytest.raises(InvalidOption):
            BRIDGE.bridge(base_perception(), None, bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------- hints


def hint_reason(b: MusicBrief) -> str:
    reasons = [r for r in b.reasons if r.feature.startswith("hint")]
    assert reasons, "a hint must leave a reason"
    return reasons[0].choice


def test_sad_piano() -> None:
    plain = brief(brightness=0.8, warmth=0.6)
    sad = brief("sad piano", brightness=0.8, warmth=0.6)
    assert plain.mode == "major" and sad.mode == "minor"
    assert sad.melody_program == 0 and sad.instruments[0] == "piano"
    assert sad.tempo < plain.tempo
    assert "sad" in sad.moods
    assert "minor" in hint_reason(sad) and "piano" in hint_reason(sad)
    assert "hint 'sad piano'" in [r.feature for r in sad.reasons]


@pytest.mark.parametrize(
    ("hint", "check"),
    [
        ("jazzy", lambda b, p: b.genre == "jazz" and b.instruments != p.instruments),
        ("faster", lambda b, p: b.tempo > p.tempo),
        ("slower", lambda b, p: b.tempo < p.tempo),
        ("Much FASTER!!!", lambda b, p: b.tempo > p.tempo * 1.3),
        (
            "epic",
            lambda b, p: b.genre == "cinematic" and "epic" in b.moods and b.velocity > p.velocity,
        ),
        ("calm", lambda b, p: b.tempo < p.tempo and "calm" in b.moods and not b.drums),
        ("happy", lambda b, p: b.mode == "major" and "happy" in b.moods),
        ("in 3/4", lambda b, p: b.meter == "3/4"),
        ("waltz", lambda b, p: b.meter == "3/4" and b.accompaniment == "waltz"),
        ("guitar", lambda b, p: b.melody_program == 25 and "acoustic guitar" in b.instruments),
        ("no drums", lambda b, p: not b.drums and "drums" not in b.instruments),
        ("🎷", lambda b, p: b.melody_program == 65),
        ("with drums", lambda b, p: b.drums and "drums" in b.instruments),
        ("in A minor", lambda b, p: (b.key, b.mode) == ("A", "minor")),
        ("in F#m", lambda b, p: (b.key, b.mode) == ("F#", "minor")),
        ("e-flat major", lambda b, p: (b.key, b.mode) == ("Eb", "major")),
        ("120 bpm", lambda b, p: b.tempo == 120),
        ("tempo: 400", lambda b, p: b.tempo == 180),
        ("louder please", lambda b, p: b.velocity > p.velocity),
        ("higher", lambda b, p: b.register > p.register),
        ("busy", lambda b, p: b.density > p.density),
        ("🎻", lambda b, p: b.melody_program == 40),
        (
            "without piano",
            lambda b, p: 0 not in (b.melody_program, b.harmony_program, b.bass_program),
        ),
    ],
)
def test_hints_change_the_brief(hint: str, check) -> None:  # noqa: ANN001
    # A cool, quiet-ish picture, so that every hint has something to change.
    features = {"brightness": 0.45, "warmth": -0.3, "saturation": 0.45, "colourfulness": 0.45}
    plain = brief(**features)
    hinted = brief(hint, **features)
    assert check(hinted, plain), (hint, hinted)
    assert hinted.hint == clean_hint(hint)
    assert hint_reason(hinted)
    check_brief(hinted)


def test_no_drums_removes_drums_from_a_loud_picture() -> None:
    loud = {"saturation": 0.95, "colourfulness": 0.95, "edge_density": 0.6}
    assert brief(**loud).drums
    quiet = brief("no drums", **loud)
    assert not quiet.drums and "no drums" in hint_reason(quiet)


def test_explicit_requests_win_over_mood_words() -> None:
    b = brief("sad but in C major at 140 bpm")
    assert (b.key, b.mode, b.tempo) == ("C", "major", 140)


def test_unknown_words_leave_the_brief_alone_but_say_so() -> None:
    plain, hinted = brief(), brief("purple monkey dishwasher")
    assert (hinted.key, hinted.mode, hinted.tempo, hinted.instruments) == (
        plain.key,
        plain.mode,
        plain.tempo,
        plain.instruments,
    )
    assert "no musical words" in hint_reason(hinted)


@pytest.mark.parametrize(
    "nasty",
    [
        "",
        "   ",
        "\x00\x01\x1b[31mred\x07",
        "🎹" * 5000,
        "a" * 100_000,
        "in Z# superminor at -5 bpm 0/0 99999999999999999999 bpm",
        "\ud800 lone surrogate",
        "‮reversed‬ text\u200b",
        "in 13/8 and 5/4",
        "no no no no",
    ],
)
def test_untrusted_hints_never_crash(nasty: str) -> None:
    b = brief(nasty)
    check_brief(b)
    assert b.hint is None or len(b.hint) <= MAX_HINT_CHARS
    assert b.hint is None or all(ch.isprintable() or ch == " " for ch in b.hint)


def test_hint_parsing_details() -> None:
    h = parse_hint("Very slow, sad violins without drums in D dorian, 3/4")
    assert h.key == "D" and h.mode == "dorian" and h.meter == "3/4"
    assert h.drums is False and h.instruments == [40] and "sad" in h.moods
    assert h.tempo_factor < 0.8 * 0.85
    assert parse_hint("make it in a calm mood").key is None  # "in a" is not A major
    assert parse_hint("not sad").moods == []
    assert parse_hint(None).empty and parse_hint(42).empty  # type: ignore[arg-type]


def test_key_helpers() -> None:
    assert [fifths_name(f) for f in (-3, -1, 0, 1, 4, 8)] == ["Eb", "F", "C", "G", "E", "G#"]
    assert all(name_fifths(fifths_name(f)) == f for f in range(-7, 12))
    assert key_signature("A", "minor") == 0 and key_signature("D", "dorian") == 0
    assert respell("G#", "major") == "Ab" and respell("A", "minor") == "A"


def test_load_bridge(settings: Settings) -> None:
    assert load_bridge(settings).name == "rules"
    with pytest.raises(ConfigError) as caught:
        load_bridge(settings.model_copy(update={"bridge": "oracle"}))
    assert "oracle" in str(caught.value)


# ---------------------------------------------------------------- words shared with the caption


def test_description_and_prompt_carry_a_phrase_of_the_picture() -> None:
    dark = brief(
        brightness=0.15,
        warmth=-0.6,
        dominant_colours=[
            NamedColour("navy", (20, 30, 90), 0.5),
            NamedColour("charcoal", (50, 50, 50), 0.3),
        ],
    )
    bright = brief(
        brightness=0.8,
        warmth=0.7,
        colourfulness=0.8,
        dominant_colours=[NamedColour("orange", (240, 140, 30), 0.7)],
    )
    for b, words in (
        (dark, ("very dark", "cool", "navy and charcoal")),
        (bright, ("bright", "warm", "vivid", "orange")),
    ):
        for text in (b.description, b.prompt):
            assert "evoking" in text
            assert all(w in text for w in words), (words, text)
    assert "navy" not in bright.description and "orange" not in dark.prompt
    # The musical words stay: the scene phrase is added, nothing is replaced.
    check_brief(dark)
    check_brief(bright)


def test_scene_phrase_follows_texture_and_a_model_caption_safely() -> None:
    assert "busy texture" in scene_phrase(base_perception(texture=0.8))
    assert "smooth shapes" in scene_phrase(base_perception(edge_density=0.05, texture=0.1))
    long = "A Cat\nsitting on a sofa.\x00 " + "very " * 40 + "fluffy."
    phrase = scene_phrase(base_perception(neural_caption=long))
    assert phrase.startswith("a Cat sitting on a sofa") and "\n" not in phrase
    assert "\x00" not in phrase and phrase.isprintable()
    assert len(phrase.split(",")[0]) <= 80 and phrase.endswith("in tan")
    b = brief(neural_caption="A lighthouse at dusk.")
    assert "evoking a lighthouse at dusk, in tan" in b.description
    assert scene_phrase(base_perception(neural_caption="Paris at night")).startswith("Paris")


def test_a_style_that_keeps_to_major_and_minor_folds_the_picture_s_mode() -> None:
    assert brief("folk").mode == "mixolydian"  # the test picture's mood: between the two
    classical = brief("classical")
    folk = brief("folk")
    # The warmth's key signature kept: D mixolydian's one sharp, as G major.
    assert (folk.key, classical.mode, classical.key) == ("D", "major", "G")
    said = [r.choice for r in classical.reasons if "mode" in r.choice or "major" in r.choice]
    assert any("classical keeps to major and minor, so not mixolydian" in c for c in said)
    assert brief("lullaby", brightness=0.3).mode == "minor"  # dorian or lower, folded down
    assert brief("classical in D dorian").mode == "dorian"  # asked for in words: as asked
    # A blues is mixolydian (its chords are dominant sevenths) or dorian.
    assert brief("blues", brightness=0.9).mode == "mixolydian"
    assert brief("blues", brightness=0.1).mode == "dorian"


def test_one_instrument_that_plays_alone_named_in_the_hint_is_a_solo() -> None:
    loud = {"saturation": 0.9, "colourfulness": 0.9, "edge_density": 0.6}  # a band, drums
    assert brief(None, **loud).drums and len(set(_players(brief(None, **loud)))) == 3
    sad = brief("sad piano", **loud)
    assert _players(sad) == (0, 0, 0) and not sad.drums  # no drummer beside a solo pianist
    said = " ".join(r.choice for r in sad.reasons)
    assert "piano alone" in said and "no drums" in said
    assert brief("sad piano with drums", **loud).drums  # asked for: played
    assert _players(brief("harp lullaby", **loud)) == (46, 46, 46)
    # Two instruments named, one that cannot play chords and bass, or a style played by a
    # band: the others stay.
    assert _players(brief("piano and cello", **loud))[:2] == (0, 42)
    assert (
        _players(brief("flute", **loud))[0] == 73 and len(set(_players(brief("flute", **loud)))) > 1
    )
    assert len(set(_players(brief("rock with piano", **loud)))) > 1


def _players(b: MusicBrief) -> tuple[int, int, int]:
    return (b.melody_program, b.harmony_program, b.bass_program)


def test_a_genre_word_inside_an_instrument_s_name_asks_for_the_genre_too() -> None:
    # A quiet, cool picture: folk or classical by itself, no drums, slow.
    quiet = {"brightness": 0.45, "warmth": -0.3, "saturation": 0.2, "colourfulness": 0.2}
    plain = brief(**quiet)
    assert plain.genre != "rock" and not plain.drums
    rock = brief("rock guitar", **quiet)
    low, high = STYLES["rock"].tempo
    assert rock.genre == "rock" and low <= rock.tempo <= high and rock.drums
    assert rock.accompaniment == "power" and rock.melody_program == 30  # a distorted guitar
    said = hint_reason(rock)
    assert "rock" in said and "distorted guitar" in said  # the motivation says what it followed
    assert brief("jazz guitar", **quiet).genre == "jazz"
    classical = brief("classical guitar", **quiet)
    assert classical.genre == "classical" and _players(classical) == (24, 24, 24)
    # Implied only: a genre named on its own wins, wherever it stands in the hint.
    assert brief("funk with a rock guitar", **quiet).genre == "funk"
    assert brief("rock guitar, funk", **quiet).genre == "funk"
    assert brief("bossa on a classical guitar", **quiet).genre == "jazz"
    # "no rock guitar" asks for no guitar, not for rock.
    unrocked = brief("no rock guitar", **quiet)
    assert unrocked.genre == plain.genre and 30 not in _players(unrocked)
    # Genre and instrument in two words were always read both ways.
    assert (brief("folk guitar", **quiet).genre, brief("jazz piano", **quiet).genre) == (
        "folk",
        "jazz",
    )


def test_the_register_names_where_a_music_box_sounds() -> None:
    """A music box plays its melody an octave above the picture's register (Instrument.lift):
    the motivation says where it sounds, and why."""
    lullaby = brief("lullaby")
    assert lullaby.melody_program == 10  # the music box
    said = next(r.choice for r in lullaby.reasons if r.choice.startswith("melody around"))
    assert said == (
        f"melody around {pitch_name(lullaby.register + 12)} (middle, an octave up on the music box)"
    )
    flute = brief("flute")
    said = next(r.choice for r in flute.reasons if r.choice.startswith("melody around"))
    assert said == f"melody around {pitch_name(flute.register)} (middle)"
