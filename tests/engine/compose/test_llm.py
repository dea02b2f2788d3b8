"""The language-model composer: prompts, extraction, repair, retries and the fallback."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PIL import Image

from engine.bridge.rules import RulesBridge
from engine.compose import load_composer
from engine.compose.abc import read_tune, validate_abc
from engine.compose.lead_sheet import arrange_lead_sheet
from engine.compose.llm import (
    LLMComposer,
    compose_messages,
    extract_abc,
    extract_motivation,
    repair_abc,
    seeing,
)
from engine.compose.styles import STYLES
from engine.config import Settings
from engine.perceive.analytic import AnalyticPerceiver
from engine.render.midi import abc_to_score
from engine.types import Exemplar, Feedback, ImageInfo, MusicBrief
from tests.engine.neural_models import (
    ScriptedServer,
    TinyModels,
    chat_reply,
)

GOOD = """X:1
T:Red Sky
M:4/4
L:1/8
Q:1/4=90
K:Am
"Am"A2 c2 e2 c2|"G"B2 d2 g4|"F"a2 g2 f2 e2|"E"e8|]"""


def _brief() -> MusicBrief:
    image = Image.new("RGB", (64, 48), (40, 40, 120))
    p = AnalyticPerceiver().perceive(image, ImageInfo(64, 48, "PNG", "RGB", 1, "0" * 64))
    return RulesBridge().bridge(p, "in A minor 4/4", 12.0)


EXEMPLAR = Exemplar(
    id="t/1", title="Old Tune", collection="t", description="A slow folk air in A minor.",
    abc="X:1\nT:Old Tune\nM:4/4\nL:1/8\nK:Am\nABcd e4|]", key="A", mode="minor", meter="4/4",
    tempo=90, similarity=0.9, score=0.9,
)  # fmt: skip


def _composer(server: ScriptedServer, attempts: int = 3) -> LLMComposer:
    settings = Settings(_env_file=None, compose=server.reference(), compose_attempts=attempts)
    composer = load_composer(settings)
    assert isinstance(composer, LLMComposer)
    composer.model.backoff = 0.01  # type: ignore[attr-defined]
    return composer


def test_good_answer(tmp_path) -> None:
    answer = f"```abc\n{GOOD}\n```\nMotivation: the deep blue asks for a minor, falling line."
    with ScriptedServer([chat_reply(answer)]) as server:
        draft = _composer(server).compose(_brief(), [EXEMPLAR], seed=3)
    assert validate_abc(draft.abc) == []
    assert "A2 c2 e2 c2" in draft.abc
    assert draft.motivation == "the deep blue asks for a minor, falling line."
    assert len(server.requests) == 1
    prompt = server.requests[0]["messages"][1]["content"]
    assert "do not copy" in prompt and "A slow folk air in A minor." in prompt
    assert "K:Am" in prompt and "M:4/4" in prompt


def test_abc_in_prose_without_fences() -> None:
    answer = f"Here is my piece!\n\n{GOOD}\n\nI wrote it because the picture feels cold and calm."
    with ScriptedServer([chat_reply(answer)]) as server:
        draft = _composer(server).compose(_brief(), [], seed=1)
    assert validate_abc(draft.abc) == [] and "Here is" not in draft.abc
    assert draft.motivation and "cold and calm" in draft.motivation


def test_no_abc_ends_with_the_markov_composer_within_the_bound() -> None:
    with ScriptedServer([chat_reply("I am sorry, I cannot write music notation.")]) as server:
        draft = _composer(server, attempts=3).compose(_brief(), [EXEMPLAR], seed=2)
    assert len(server.requests) == 3
    assert validate_abc(draft.abc) == []
    assert "statistical composer" in draft.notes[0] and "no ABC" in draft.notes[0]
    # Each retry tells the model what was wrong.
    assert "no ABC tune" in server.requests[1]["messages"][-1]["content"]


def test_broken_abc_is_retried_then_accepted() -> None:
    broken = "```abc\nX:1\nT:x\nM:4/4\nL:1/8\nK:C\n|: [CEG !!! ((( ]]] |\n```"
    with ScriptedServer([chat_reply(broken), chat_reply(f"```abc\n{GOOD}\n```")]) as server:
        draft = _composer(server).compose(_brief(), [], seed=4)
    assert len(server.requests) == 2
    assert "problems" in server.requests[1]["messages"][-1]["content"]
    assert validate_abc(draft.abc) == [] and any("2 attempts" in n for n in draft.notes)


def test_endless_text_ends_in_a_valid_piece() -> None:
    with ScriptedServer([chat_reply("la la " * 100_000)]) as server:
        draft = _composer(server, attempts=2).compose(_brief(), [], seed=5)
    assert len(server.requests) == 2
    assert abc_to_score(draft.abc).note_num() > 0


def test_server_errors_then_success() -> None:
    with ScriptedServer([(500, "busy"), chat_reply(f"```\n{GOOD}\n```")]) as server:
        draft = _composer(server).compose(_brief(), [], seed=6)
    assert "A2 c2 e2 c2" in draft.abc and len(server.requests) == 2


def test_feedback_goes_into_the_prompt() -> None:
    feedback = Feedback(
        round=1, previous_abc=GOOD, metrics={"pitch_range": 12.0, "scale_consistency": 0.8},
        targets={"pitch_range": 19.0, "scale_consistency": 0.95},
        adjustments={"pitch_span": 19.0}, advice=["use a wider range of pitches"],
    )  # fmt: skip
    messages = compose_messages(_brief(), [EXEMPLAR], feedback, with_image=False)
    text = messages[1]["content"]
    assert "refinement round 1" in text and "pitch_range 12.00 (target 19.00)" in text
    assert "use a wider range of pitches" in text and GOOD in text


def test_repairs_common_faults() -> None:
    brief = _brief()
    faulty = (
        "T:Missing bits\nK:Am\nA2 B2 c2 d2 | e2 !wobble! d2 c2 | A4 B4 c4 |\n\nA8 | A2 B2 c4 |]"
    )
    fixed, repairs = repair_abc(faulty, brief)
    assert validate_abc(fixed) == [], fixed
    headers = read_tune(fixed).headers
    assert headers["X"] == "1" and headers["M"] == brief.meter and headers["L"] == "1/8"
    assert "wobble" not in fixed
    text = " ".join(repairs)
    assert "X:" in text and "decoration" in text and "blank lines" in text and "bar 3" in text
    assert fixed.index("K:") > fixed.index("M:")


def test_extraction_edge_cases() -> None:
    assert extract_abc("") == (None, "")
    abc, rest = extract_abc(f"```python\nprint(1)\n```\n```abc\n{GOOD}\n```\nMotivation: x y z w v")
    assert abc == GOOD
    assert extract_motivation("Motivation: ok") is None  # too short to be a motivation
    assert extract_motivation("### Why\nBecause the sky is red and the sea is calm.").startswith(
        "Why Because"
    )


def test_vision_composer_sees_the_image(tiny_models: TinyModels) -> None:
    composer = load_composer(
        Settings(_env_file=None, compose=f"hf:{tiny_models.vlm}", compose_attempts=2)
    )
    assert isinstance(composer, LLMComposer) and composer.model.vision
    seen = []
    original = composer.model.chat

    def spy(messages, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen.append(kwargs["image"])
        return original(messages, **{**kwargs, "max_tokens": 16})

    composer.model.chat = spy  # type: ignore[method-assign]
    image = Image.new("RGB", (40, 30), (255, 0, 0))
    with seeing(image):
        draft = composer.compose(_brief(), [EXEMPLAR], seed=1)
    assert seen == [image, image]  # two bounded attempts, each with the picture
    assert abc_to_score(draft.abc).note_num() > 0  # random weights: the fallback wrote it
    assert "statistical composer" in draft.notes[0]


@pytest.mark.parametrize("reference", ["hf:/no/such/dir", "openai:ftp://x#m"])
def test_bad_reference(reference: str) -> None:
    from engine.errors import ConfigError

    with pytest.raises(ConfigError):
        load_composer(Settings(_env_file=None, compose=reference))


def test_a_single_voice_answer_is_arranged_in_the_style() -> None:
    brief = replace(_brief(), genre="folk", drums=True)
    answer = f"```abc\n{GOOD}\n```\nMotivation: the deep blue asks for a minor, falling line."
    with ScriptedServer([chat_reply(answer)]) as server:
        draft = _composer(server).compose(brief, [], seed=3)
    assert validate_abc(draft.abc, allow_pickup=False) == [], draft.abc
    voices = read_tune(draft.abc).voices
    assert len(voices) >= 3 and "V:2" in draft.abc and "V:3" in draft.abc
    assert "V:4" in draft.abc and "%%MIDI channel 10" in draft.abc
    assert '"Am"' not in draft.abc  # the symbols became the chords voice, not a vamp
    assert voices["1"].notes()[:4] == read_tune(GOOD).voices["1"].notes()[:4]
    assert draft.motivation == "the deep blue asks for a minor, falling line."


def test_a_tune_of_several_voices_is_kept_as_written() -> None:
    duet = GOOD.replace("K:Am\n", "K:Am\nV:1\n") + "\nV:2\nA,8|G,8|F,8|E,8|]"
    with ScriptedServer([chat_reply(f"```abc\n{duet}\n```")]) as server:
        draft = _composer(server).compose(_brief(), [], seed=3)
    assert validate_abc(draft.abc) == []
    assert sorted(read_tune(draft.abc).voices) == ["1", "2"] and "A,8" in draft.abc


def test_a_melody_that_cannot_be_arranged_plays_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> str:
        raise ValueError("no chords")

    monkeypatch.setattr("engine.compose.llm.arrange_lead_sheet", fail)
    with ScriptedServer([chat_reply(f"```abc\n{GOOD}\n```")]) as server:
        draft = _composer(server).compose(_brief(), [], seed=3)
    assert validate_abc(draft.abc) == [] and '"Am"A2 c2 e2 c2' in draft.abc
    assert any("could not be arranged" in n and "no chords" in n for n in draft.notes)


def test_the_prompt_names_the_styles_chords_and_groove() -> None:
    jazz = replace(_brief(), genre="jazz", key="C", mode="major", meter="4/4", drums=True)
    text = compose_messages(jazz, [], None, with_image=False)[1]["content"]
    assert STYLES["jazz"].words in text
    assert "| Cmaj7 | Am7 | Dm7 | G7 |" in text and "Dm7 G9 C6" in text
    assert "swung eighths" in text and "with drums" in text
    folk = replace(_brief(), genre="folk", key="A", mode="minor", meter="6/8", drums=False)
    text = compose_messages(folk, [], None, with_image=False)[1]["content"]
    assert "| Am | G | Am | Em |" in text and "straight eighths" in text
    assert "Meter 6/8" in text and "without drums" in text


def test_refinement_shows_the_model_its_melody_without_the_band() -> None:
    arranged = arrange_lead_sheet(GOOD, _brief(), [])
    feedback = Feedback(
        round=1, previous_abc=arranged, metrics={}, targets={}, adjustments={}, advice=[]
    )
    text = compose_messages(_brief(), [], feedback, with_image=False)[1]["content"]
    assert "A2 c2 e2 c2" in text and "V:2" not in text and "T:Red Sky" in text
