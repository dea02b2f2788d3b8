"""The chat interface: a local transformers model, and an OpenAI-compatible server on loopback."""

from __future__ import annotations

import json

import httpx
import pytest
from PIL import Image

from engine.chat import MAX_OUTPUT_CHARS, OpenAIChat, load_chat_model
from engine.config import Settings
from engine.errors import ModelOutputError, ModelUnavailable
from tests.engine.neural_models import (
    ScriptedServer,
    TinyModels,
    chat_reply,
)

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]


def test_openai_chat_sends_the_request() -> None:
    with ScriptedServer([chat_reply("a calm piano piece")]) as server:
        model = load_chat_model(Settings(_env_file=None), server.reference("qwen"), "bridge")
        answer = model.chat(MESSAGES, max_tokens=99999, temperature=0.2, seed=5)
    assert answer == "a calm piano piece"
    body = server.requests[0]
    assert server.paths == ["/v1/chat/completions"]
    assert body["model"] == "qwen" and body["messages"] == MESSAGES
    assert body["max_tokens"] == 4096 and body["seed"] == 5  # capped


def test_retries_on_500_then_succeeds() -> None:
    replies = [(500, "oops"), (429, "slow down"), chat_reply("ok")]
    with ScriptedServer(replies) as server:
        model = OpenAIChat(server.url, "m", retries=2, backoff=0.01)
        assert model.chat(MESSAGES) == "ok"
    assert len(server.requests) == 3


def test_gives_up_after_the_retry_bound() -> None:
    with ScriptedServer([(503, "down")]) as server:
        model = OpenAIChat(server.url, "m", retries=2, backoff=0.01)
        with pytest.raises(ModelUnavailable):
            model.chat(MESSAGES)
    assert len(server.requests) == 3


def test_client_errors_are_not_retried() -> None:
    with ScriptedServer([(404, "no such model")]) as server, pytest.raises(ModelUnavailable):
        OpenAIChat(server.url, "m", retries=3, backoff=0.01).chat(MESSAGES)
    assert len(server.requests) == 1


def test_unreachable_server_fails_cleanly() -> None:
    model = OpenAIChat("http://127.0.0.1:9/v1", "m", retries=1, backoff=0.01, timeout=2)
    with pytest.raises(ModelUnavailable):
        model.chat(MESSAGES)


@pytest.mark.parametrize("body", ["not json", json.dumps({"choices": []}), json.dumps([1])])
def test_malformed_replies(body: str) -> None:
    with ScriptedServer([(200, body)]) as server, pytest.raises(ModelOutputError):
        OpenAIChat(server.url, "m", retries=0).chat(MESSAGES)


def test_endless_text_is_cut() -> None:
    with ScriptedServer([chat_reply("la " * 200_000)]) as server:
        answer = OpenAIChat(server.url, "m").chat(MESSAGES)
    assert len(answer) == MAX_OUTPUT_CHARS


def test_vision_flag_sends_the_image() -> None:
    image = Image.new("RGB", (1000, 500), (10, 200, 30))
    with ScriptedServer([chat_reply("ok")]) as server:
        model = load_chat_model(Settings(_env_file=None), server.reference("vl+vision"), "compose")
        assert model.vision
        model.chat(MESSAGES, image=image)
    user = server.requests[0]["messages"][1]
    assert server.requests[0]["model"] == "vl"
    assert user["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert user["content"][1] == {"type": "text", "text": "hello"}


def test_api_key_is_a_bearer_token() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(200, json={"choices": [{"message": {"content": "hi"}}]})

    model = OpenAIChat("http://x/v1", "m", api_key="s3cret", transport=httpx.MockTransport(handler))
    assert model.chat(MESSAGES) == "hi"
    assert seen["auth"] == "Bearer s3cret"


def test_local_causal_lm_uses_its_chat_template(tiny_models: TinyModels) -> None:
    model = load_chat_model(Settings(_env_file=None), f"hf:{tiny_models.llm}", "bridge")
    assert not model.vision
    first = model.chat(MESSAGES, max_tokens=12, seed=3)
    assert isinstance(first, str) and first == model.chat(MESSAGES, max_tokens=12, seed=3)
    ids = model.tokenizer(first, add_special_tokens=False)["input_ids"]
    assert len(ids) <= 14  # at most max_tokens new tokens (decoding may merge/split a little)


def test_local_vlm_sees_the_image(tiny_models: TinyModels) -> None:
    model = load_chat_model(Settings(_env_file=None), f"hf:{tiny_models.vlm}", "compose")
    assert model.vision
    inputs = model._vision_inputs(MESSAGES, Image.new("RGB", (50, 40), (200, 0, 0)))
    assert inputs["pixel_values"].shape[-2:] == (32, 32)
    image_id = model.tokenizer.convert_tokens_to_ids("<image>")
    assert int((inputs["input_ids"] == image_id).sum()) == 4  # 2x2 patches
    answer = model.chat(MESSAGES, image=Image.new("RGB", (50, 40)), max_tokens=8, seed=1)
    assert isinstance(answer, str)
