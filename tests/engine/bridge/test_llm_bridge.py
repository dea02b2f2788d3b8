"""The LLM bridge: a description from the model, its stated fields in the brief."""

from __future__ import annotations

from PIL import Image

from engine.bridge import load_bridge
from engine.bridge.llm_bridge import (
    MAX_DESCRIPTION_CHARS,
    LLMBridge,
    bridge_messages,
    clean_description,
)
from engine.bridge.rules import RulesBridge
from engine.config import Settings
from engine.perceive.analytic import AnalyticPerceiver
from engine.types import ImageInfo, Perception
from tests.engine.neural_models import (
    ScriptedServer,
    TinyModels,
    chat_reply,
)

JAZZ = "Melancholic jazz ballad for tenor saxophone and piano, 3/4, 72 bpm in D minor."


def _perception() -> Perception:
    image = Image.new("RGB", (64, 48), (240, 200, 60))  # bright and warm: rules say major
    p = AnalyticPerceiver().perceive(image, ImageInfo(64, 48, "PNG", "RGB", 1, "0" * 64))
    p.neural_caption = "a yellow field under the sun"
    return p


def _bridge(server: ScriptedServer) -> LLMBridge:
    bridge = load_bridge(Settings(_env_file=None, bridge=server.reference()))
    assert isinstance(bridge, LLMBridge)
    return bridge


def test_stated_fields_fill_the_brief() -> None:
    with ScriptedServer([chat_reply(f"Description: {JAZZ}\nThis fits because...")]) as server:
        brief = _bridge(server).bridge(_perception(), None, 20.0)
    assert (brief.tempo, brief.key, brief.mode, brief.meter) == (72, "D", "minor", "3/4")
    assert brief.melody_program in (65, 66) and brief.harmony_program == 0  # sax, piano
    assert brief.genre == "jazz"
    assert "melancholic" in brief.moods
    assert brief.prompt == JAZZ and brief.description == JAZZ
    assert brief.backend == "llm:openai:tiny" and brief.duration == 20.0
    assert any("described as" in r.choice for r in brief.reasons)
    # The model was given the neural caption, after the few-shot examples.
    sent = server.requests[0]["messages"]
    assert sent[-1]["content"].startswith("Caption: a yellow field under the sun")
    assert len(sent) == 2 + 2 * 4


def test_the_users_hint_wins_over_the_model() -> None:
    with ScriptedServer([chat_reply(JAZZ)]) as server:
        brief = _bridge(server).bridge(_perception(), "120 bpm on violin", 20.0)
    assert brief.tempo == 120 and brief.melody_program == 40
    assert (brief.key, brief.mode) == ("D", "minor")  # the user said nothing about the key
    assert "Request: 120 bpm on violin" in server.requests[0]["messages"][-1]["content"]


def test_unfilled_fields_come_from_the_rules() -> None:
    with ScriptedServer([chat_reply("Gentle music with soft textures and warm colours")]) as server:
        brief = _bridge(server).bridge(_perception(), None, 20.0)
    rules = RulesBridge().bridge(_perception(), None, 20.0)
    assert (brief.key, brief.meter, brief.register) == (rules.key, rules.meter, rules.register)
    assert brief.prompt.startswith("Gentle music")


def test_unusable_answer_keeps_the_rules_brief() -> None:
    with ScriptedServer([chat_reply("\ufffd\x01 ?? 12")]) as server:
        brief = _bridge(server).bridge(_perception(), None, 20.0)
    rules = RulesBridge().bridge(_perception(), None, 20.0)
    assert brief.prompt == rules.prompt and brief.tempo == rules.tempo
    assert any("unusable" in r.choice for r in brief.reasons)


def test_clean_description() -> None:
    assert clean_description('"Calm piano, slow."\nbecause') == "Calm piano, slow."
    long = clean_description("calm " * 100)
    assert 0 < len(long) <= MAX_DESCRIPTION_CHARS
    assert clean_description("\n\n12 34\n") == ""
    assert "none" in bridge_messages("a cat", None)[-1]["content"]


def test_local_causal_lm_bridge(tiny_models: TinyModels) -> None:
    bridge = load_bridge(Settings(_env_file=None, bridge=f"hf:{tiny_models.llm}"))
    brief = bridge.bridge(_perception(), "sad", 15.0)
    assert brief.mode == "minor"  # the hint, whatever the random model said
    assert len(brief.prompt) <= 400 and brief.duration == 15.0


def test_a_genre_inside_the_users_instrument_wins_over_the_model_s_genre() -> None:
    with ScriptedServer([chat_reply(JAZZ)]) as server:
        brief = _bridge(server).bridge(_perception(), "rock guitar", 20.0)
    assert brief.genre == "rock" and brief.melody_program == 30
