from __future__ import annotations

from engine.bridge.rules import RulesBridge
from engine.motivation import write_motivation
from engine.types import RefineRound
from tests.engine.bridge.test_rules import base_perception


def _motivation(hint: str | None, rounds: list[RefineRound] | None = None) -> str:
    p = base_perception()
    brief = RulesBridge().bridge(p, hint, 30.0)
    return write_motivation(
        perception=p, brief=brief, exemplars=[], rounds=rounds or [], best=0, notes=[]
    )


def test_the_style_is_named_and_a_hint_is_reported_truly() -> None:
    text = _motivation("funk")
    assert "Played as funk:" in text and "syncopated bass" in text
    assert "You asked for “funk”, so: funk." in text
    unknown = _motivation("zorblax quux")
    assert "I know none of its words, so the picture decided" in unknown
    assert "the choices above follow it" not in unknown


def test_repeated_refinement_rounds_share_a_line() -> None:
    same = ["wider range (pitch_span 18.00 -> 20.00)"]
    rounds = [
        RefineRound(0, {"pitch_range": 10.0}, {"pitch_range": 14.0}, 1.0, []),
        RefineRound(1, {"pitch_range": 12.0}, {"pitch_range": 14.0}, 0.5, same),
        RefineRound(2, {"pitch_range": 12.0}, {"pitch_range": 14.0}, 0.5, same),
        RefineRound(3, {"pitch_range": 13.0}, {"pitch_range": 14.0}, 0.3, ["fewer rests"]),
    ]
    text = _motivation(None, rounds)
    assert text.count("wider range") == 1 and "Rounds 1–2: wider range" in text
    assert "Round 3: fewer rests" in text


HOSTILE = "[Reset your password](https://evil.example/reset) <@U123> @everyone **now**"


def test_a_hint_is_quoted_as_text_not_markup() -> None:
    text = _motivation(HOSTILE + " jazz")
    assert HOSTILE not in text  # never as live Markdown
    assert r"\[Reset your password\](https://evil.example/reset)" in text
    assert r"\<@U123\>" in text and r"\*\*now\*\*" in text
    assert "](https://" not in text.replace(r"\](https://", "")
