"""Options chosen outright: read strictly, applied after the picture and the hint, and said
in the reasons and the motivation."""

from __future__ import annotations

import pytest

from engine.bridge.options import options_words, read_instruments, read_key, read_options
from engine.bridge.rules import OPTIONS_FEATURE, OVERRIDDEN, RulesBridge, key_signature
from engine.compose.styles import STYLES
from engine.errors import InvalidOption
from engine.motivation import write_motivation
from engine.types import MusicBrief, PieceOptions, to_dict
from tests.engine.bridge.test_rules import base_perception

BRIDGE = RulesBridge()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("D minor", ("D", "minor")),
        ("F# dorian", ("F#", "dorian")),
        ("Bb", ("Bb", None)),
        ("b flat", ("Bb", None)),
        ("e-flat minor", ("Eb", "minor")),
        ("Am", ("A", "minor")),
        ("dorian", (None, "dorian")),
        ("", (None, None)),
    ],
)
def test_keys_are_read(text: str, expected: tuple[str | None, str | None]) -> None:
    assert read_key(text) == expected


def test_instruments_are_read_melody_first() -> None:
    assert read_instruments("violin, piano and cello") == (40, 0, 42)
    assert read_instruments("") == ()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("style", "polka", "Unknown style: use ambient, blues"),
        ("tempo", "300", "from 50 to 180"),
        ("tempo", "fast", "from 50 to 180"),
        ("key", "H major", "Unknown key"),
        ("key", "D happy", "Unknown key"),
        ("instruments", "kazoo", "Unknown instrument “kazoo”"),
        ("instruments", "violin, cello, piano, flute", "up to 3"),
    ],
)
def test_bad_options_are_refused_with_what_is_accepted(field: str, value: str, says: str) -> None:
    with pytest.raises(InvalidOption) as caught:
        read_options(**{field: value})
    assert says in caught.value.user_message


def test_nothing_given_is_no_options() -> None:
    assert read_options(style="", tempo=None, key=" ", instruments="") is None


def test_options_override_the_picture_and_say_so() -> None:
    p = base_perception()
    plain = BRIDGE.bridge(p, None, 30)
    options = PieceOptions(style="jazz", tempo=77, key="F#", mode="dorian", instruments=(65, 0))
    assert plain.genre != "jazz" and plain.tempo != 77
    brief = BRIDGE.bridge(p, None, 30, options)
    assert (brief.genre, brief.tempo, brief.key, brief.mode) == ("jazz", 77, "F#", "dorian")
    assert (brief.melody_program, brief.harmony_program) == (65, 0)
    assert brief.instruments[:2] == ["alto saxophone", "piano"]
    said = [r for r in brief.reasons if r.feature == OPTIONS_FEATURE]
    assert len(said) == 1
    for word in ("jazz style", "77 bpm", "F# dorian"):
        assert word in said[0].choice
    # The picture's own reasons for what the options decided are gone: no false "because".
    decided = {r.choice for r in brief.reasons}
    assert not any("bpm (" in c and "within" in c for c in decided)
    assert brief.options == options
    assert MusicBrief.from_dict(to_dict(brief)).options == options


def test_options_win_over_the_hint_and_the_hint_is_told_so() -> None:
    brief = BRIDGE.bridge(base_perception(), "rock at 150 bpm", 30, PieceOptions(tempo=60))
    assert brief.tempo == 60 and brief.genre == "rock"  # the hint still chose the style
    hint_reason = [r for r in brief.reasons if r.feature.startswith("hint ")]
    assert hint_reason and "150" not in hint_reason[0].choice
    only_tempo = BRIDGE.bridge(base_perception(), "150 bpm", 30, PieceOptions(tempo=60))
    assert [r.choice for r in only_tempo.reasons if r.feature.startswith("hint ")] == [OVERRIDDEN]


def test_a_mode_alone_gives_the_parallel_key() -> None:
    p = base_perception()
    plain = BRIDGE.bridge(p, None, 30)
    brief = BRIDGE.bridge(p, None, 30, PieceOptions(mode="phrygian"))
    assert brief.mode == "phrygian"
    assert brief.key == plain.key or abs(key_signature(brief.key, "phrygian")) <= 6


def test_every_style_can_be_chosen() -> None:
    for name in STYLES:
        assert BRIDGE.bridge(base_perception(), None, 30, PieceOptions(style=name)).genre == name


def test_the_motivation_says_what_was_chosen() -> None:
    options = PieceOptions(style="lullaby", tempo=60)
    brief = BRIDGE.bridge(base_perception(), "sad", 30, options)
    text = write_motivation(
        perception=base_perception(), brief=brief, exemplars=[], rounds=[], best=0
    )
    line = next(x for x in text.splitlines() if x.startswith("You chose"))
    assert "lullaby style" in line and "60 bpm" in line and "the picture and your hint" in line
    assert options_words(options) == ["lullaby style", "60 bpm"]
