"""Features read from ABC text by the light tokenizer, checked on tunes worked out by hand."""

from __future__ import annotations

import pytest

from engine.retrieve.corpus import parse_tune
from engine.retrieve.features import (
    density_from_rate,
    key_signature,
    rate_from_density,
    tune_features,
)


def features_of(abc: str, collection: str = "test"):
    return tune_features(parse_tune(abc, collection, f"{collection}/t/1"))


def test_scale_in_g_major() -> None:
    # G A B c | d e f g: f is F#5 through the key signature.
    f = features_of("X:1\nT:Scale\nM:4/4\nL:1/4\nQ:1/4=120\nK:G\nGABc|defg|]\n")
    assert (f.key, f.mode, f.meter, f.tempo, f.tempo_source) == ("G", "major", "4/4", 120, "Q")
    assert f.notes == 8
    assert (f.lowest, f.highest, f.pitch_range) == (67, 79, 12)
    assert f.mean_pitch == pytest.approx((67 + 69 + 71 + 72 + 74 + 76 + 78 + 79) / 8)
    assert f.bars == 2
    assert f.beats == 8.0
    assert f.duration == pytest.approx(4.0)  # 8 quarter notes at 120 per minute
    assert f.notes_per_beat == pytest.approx(1.0)
    assert f.notes_per_second == pytest.approx(2.0)
    assert f.step_ratio == 1.0 and f.leap_ratio == 0.0
    assert f.direction == "rising"


def test_lengths_accidentals_octaves_and_chords() -> None:
    # ^c raises c for the rest of the bar only; [CEG] counts its first note; C, is an octave down.
    f = features_of("X:1\nT:t\nM:4/4\nL:1/8\nK:C\n^c2 c2 [CEG]4|c2 C,2 z4|]\n")
    # notes: C#5 (73), C#5 (73), C4 (60), C5 (72), C3 (48)
    assert f.notes == 5
    assert (f.lowest, f.highest) == (48, 73)
    assert f.mean_pitch == pytest.approx((73 + 73 + 60 + 72 + 48) / 5)
    assert f.beats == 8.0  # two bars of 4/4, the rest included


def test_repeats_and_tuplets_count_towards_duration() -> None:
    f = features_of("X:1\nT:t\nM:2/4\nL:1/8\nQ:1/4=60\nK:D\n|:(3ABc d e:|\n")
    # one bar of 2/4 (the triplet takes two eighths), played twice: 4 quarter notes.
    assert f.beats == pytest.approx(4.0)
    assert f.duration == pytest.approx(4.0)
    assert f.notes == 5


def test_tempo_defaults_from_type_words_and_meter() -> None:
    reel = features_of("X:1\nT:The Reel\nR:reel\nM:4/4\nL:1/8\nK:D\nABcd efge|]\n")
    assert (reel.tune_type, reel.tempo, reel.tempo_source) == ("reel", 200, "default")
    slow = features_of('X:1\nT:Air\nN:"Very slow"\nM:3/4\nL:1/8\nK:D\nA4 B2|c6|]\n')
    assert (slow.tempo, slow.tempo_source) == (56, "words")
    song = features_of("X:1\nT:Lied\nM:3/4\nL:1/4\nK:G\nGAB|c3|]\n", "essenFolksong")
    assert (song.tune_type, song.tempo) == ("song", 100)


def test_mode_is_inferred_when_k_names_only_the_tonic() -> None:
    # Essen writes G minor as "K: G" with explicit flats on B.
    body = "G2 _B2 c2 d2 | _e2 d2 _B2 G2 | _B2 A2 G4 |]"
    f = features_of(f"X:1\nT:Lied\nM:4/4\nL:1/8\nK: G\n{body}\n", "essenFolksong")
    assert f.mode == "minor"
    named = features_of(f"X:1\nT:Lied\nM:4/4\nL:1/8\nK:Gmaj\n{body}\n")
    assert named.mode == "major"  # a named mode is trusted


def test_key_signatures() -> None:
    assert key_signature("D", "major") == {**dict.fromkeys("CDEFGAB", 0), "F": 1, "C": 1}
    assert key_signature("D", "dorian") == dict.fromkeys("CDEFGAB", 0)
    assert key_signature("G", "minor") == {**dict.fromkeys("CDEFGAB", 0), "B": -1, "E": -1}


def test_density_scale_round_trips() -> None:
    assert density_from_rate(1.0) == 0.0
    assert density_from_rate(8.0) == 1.0
    assert density_from_rate(0.0) == 0.0
    for d in (0.1, 0.5, 0.9):
        assert density_from_rate(rate_from_density(d)) == pytest.approx(d)


def test_garbage_body_gives_features_not_errors() -> None:
    f = features_of('X:1\nT:t\nM:3/4\nL:1/8\nK:C\n"Am"!trill!{g}A2 +fermata+ B/ c// ]]] ::: (9 d\n')
    assert f.notes == 4
    assert f.tempo > 0 and f.duration > 0
