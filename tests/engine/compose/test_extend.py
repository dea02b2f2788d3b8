"""⏩ Extend: a longer piece continuing an earlier one keeps its opening bars (every voice),
then goes on with new sections and a new ending."""

from __future__ import annotations

import dataclasses
import re

import pytest

from engine.bridge.rules import RulesBridge
from engine.compose.form import plan_sections
from engine.compose.markov import MarkovComposer
from engine.compose.rhythm import Meter
from engine.compose.styles import STYLES
from engine.pipeline import brief_for_notes, continuing
from engine.refine import derive_targets, refine
from tests.engine.bridge.test_rules import base_perception

BRIDGE = RulesBridge()
COMPOSER = MarkovComposer()


def voice_bars(abc: str) -> dict[str, list[str]]:
    """Each voice's bars, as written (decorations and all)."""
    voices: dict[str, list[str]] = {}
    current = "1"
    for line in abc.splitlines():
        if line.startswith("V:"):
            current = line[2:].split()[0]
            continue
        if re.match(r"^[A-Za-z]:|^%", line) or not line.strip():
            continue
        bars = [b.strip() for b in re.split(r"\|\]?", line) if b.strip()]
        voices.setdefault(current, []).extend(bars)
    return voices


def test_a_longer_form_starts_with_the_earlier_one() -> None:
    style = STYLES["folk"]
    before, _ = plan_sections(30, 100, 4, style)
    after, _ = plan_sections(60, 100, 4, style, [30])
    assert [s.letter for s in after[: len(before)]] == [s.letter for s in before]
    assert [s.cadence for s in after[: len(before) - 1]] == [s.cadence for s in before[:-1]]
    assert after[len(before) - 1].cadence != "final" and after[-1].cadence == "final"
    assert after[-1].letter == "A" and len(after) > len(before)
    twice, _ = plan_sections(90, 100, 4, style, [30, 60])
    assert [(s.letter, s.cadence) for s in twice[: len(after) - 1]] == [
        (s.letter, s.cadence) for s in after[:-1]
    ]


@pytest.mark.parametrize("hint", [None, "jazz", "rock", "waltz", "lullaby", "blues", "ambient"])
def test_an_extension_keeps_the_opening_bars_of_every_voice(hint: str | None) -> None:
    p = base_perception()
    brief = BRIDGE.bridge(p, hint, 30)
    targets = derive_targets(p, brief)
    parent = refine(COMPOSER, brief_for_notes(brief), [], 11, targets, 2)
    best = parent.rounds[parent.best]
    longer = continuing(dataclasses.replace(brief, duration=60.0), [30.0])
    child = refine(
        COMPOSER, brief_for_notes(longer), [], 11 + parent.best, targets, 0, knobs=best.knobs
    )
    old, new = voice_bars(parent.draft.abc), voice_bars(child.draft.abc)
    # The bars before the earlier piece's last phrase are the same, voice by voice.
    notes = brief_for_notes(brief)
    sections, _ = plan_sections(
        notes.duration, brief.tempo, Meter.parse(brief.meter).quarters, STYLES[brief.genre]
    )
    kept = sections[-1].start
    assert kept >= 4
    assert set(new) == set(old)
    for voice in old:
        assert new[voice][:kept] == old[voice][:kept], voice
    assert len(new["1"]) > len(old["1"]) + 2  # more sections
    assert new["1"][kept : len(old["1"])] != old["1"][kept:]  # a new ending of that phrase
    assert any("continues" in r.feature for r in longer.reasons)
