"""Descriptions of tunes and briefs: they state key, meter and tempo in the same words."""

from __future__ import annotations

import re

from engine.retrieve.corpus import parse_tune
from engine.retrieve.describe import (
    describe_brief,
    describe_tune,
    key_phrase,
    mode_family,
    tempo_marking,
)
from engine.retrieve.features import tune_features
from tests.engine.retrieve.briefs import make_brief

JIG = "X:1\nT:Jig\nR:jig\nM:6/8\nL:1/8\nQ:3/8=120\nK:Ador\n|:EAA ABc|BAG EDE|EAA ABc|BGE A3:|\n"


def test_tune_description_states_key_meter_tempo_and_type() -> None:
    tune = parse_tune(JIG, "oneills1850", "oneills1850/x/1")
    text = describe_tune(tune, tune_features(tune))
    assert "A dorian" in text
    assert "6/8 time signature" in text
    assert "180 bpm" in text and "Presto" in text
    assert "Irish jig" in text
    assert text.startswith("A ") and text.endswith(".")
    assert len(re.split(r"(?<=\.)\s+", text)) == 3  # three sentences, as the index splits them


def test_brief_description_uses_the_same_key_phrase() -> None:
    brief = make_brief(key="F#", mode="minor", meter="3/4", tempo=72, moods=("sad", "calm"))
    text = describe_brief(brief)
    assert key_phrase("F#", "minor", "3/4", 72) in text
    assert "F# minor" in text and "3/4" in text and "70 bpm" in text  # tempo to the nearest 5
    assert text.startswith("A sad, calm folk piece")


def test_brief_without_moods_gets_mode_moods() -> None:
    text = describe_brief(make_brief(mode="minor", tempo=60, moods=(), density=0.1))
    assert "sad, mournful" in text


def test_free_meter_and_markings() -> None:
    assert "in free time" in key_phrase("C", "major", "free", 100)
    assert tempo_marking(50) == "Largo" and tempo_marking(200) == "Presto"
    assert "an Andante" in key_phrase("C", "major", "4/4", 100)
    assert mode_family("dorian") == "minor" and mode_family("mixolydian") == "major"
