"""Model references, device/dtype resolution, cached loading and the doctor's check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config import Settings
from engine.errors import ConfigError
from engine.stage_check import check_stage
from engine.weights import (
    guess_task,
    load_for,
    parse_ref,
    resolve_device,
    resolve_dtype,
)
from tests.engine.neural_models import ScriptedServer, TinyModels


def test_parse_references(tmp_path: Path) -> None:
    assert parse_ref("analytic").kind == "builtin"
    hub = parse_ref("hf:Salesforce/blip-image-captioning-base")
    assert (hub.kind, hub.target, hub.local) == (
        "hf",
        "Salesforce/blip-image-captioning-base",
        False,
    )
    local = parse_ref(f"hf:{tmp_path}")
    assert local.local and local.short == f"hf:{tmp_path.name}"
    remote = parse_ref("openai:http://127.0.0.1:8000/v1/#qwen2.5-7b")
    assert (remote.target, remote.model) == ("http://127.0.0.1:8000/v1", "qwen2.5-7b")
    clip = parse_ref("clip:ViT-B-32/laion2b_s34b_b79k")
    assert (clip.kind, clip.target, clip.model) == ("clip", "ViT-B-32", "laion2b_s34b_b79k")
    assert parse_ref(f"clip:{tmp_path}").local


@pytest.mark.parametrize(
    "text",
    [
        "",
        "blip",
        "hf:",
        "hf:/no/such/folder/at/all",
        "openai:localhost#m",
        "openai:http://h/v1",
        "clip:ViT-B-32",
        "gguf:model",
    ],
)
def test_bad_references_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_ref(text, "perceive")
    assert "PICTUNE_PERCEIVE" in (err.value.detail or "")


def test_device_and_dtype() -> None:
    cpu = Settings(_env_file=None)
    assert resolve_device(cpu) == "cpu"
    assert resolve_dtype(cpu, "cpu") == "float32"
    with pytest.raises(ConfigError):
        resolve_dtype(Settings(_env_file=None, dtype="float16"), "cpu")
    with pytest.raises(ConfigError):
        resolve_device(Settings(_env_file=None, device="tpu"))
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError):
            resolve_device(Settings(_env_file=None, device="cuda:0"))


def test_loads_once_per_reference(tiny_models: TinyModels) -> None:
    settings = Settings(_env_file=None)
    ref = f"hf:{tiny_models.llm}"
    first = load_for(settings, ref, "causal-lm", "bridge")
    assert load_for(settings, ref, "causal-lm", "bridge") is first
    assert first.device == "cpu" and str(first.model.dtype) == "torch.float32"
    assert not first.model.training


def test_guess_task(tiny_models: TinyModels) -> None:
    assert guess_task(parse_ref(f"hf:{tiny_models.vlm}")) == "image-text"
    assert guess_task(parse_ref(f"hf:{tiny_models.llm}")) == "causal-lm"


def test_missing_weights_are_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "empty-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ConfigError) as err:
        load_for(Settings(_env_file=None), f"hf:{folder}", "causal-lm", "bridge")
    assert "could not load" in (err.value.detail or "")
    # A hub id cannot be fetched here (HF_HUB_OFFLINE): a clear error, not a hang.
    with pytest.raises(ConfigError):
        load_for(Settings(_env_file=None), "hf:nobody/no-such-model", "causal-lm", "bridge")


def test_check_stage(tiny_models: TinyModels, tmp_path: Path) -> None:
    ok, message = check_stage(Settings(_env_file=None), "perceive")
    assert ok and "embedded" in message
    ok, message = check_stage(Settings(_env_file=None), "audio")
    assert ok and "not configured" in message
    settings = Settings(_env_file=None, perceive=f"hf:{tiny_models.captioner}")
    ok, message = check_stage(settings, "perceive")
    assert ok and "BlipForConditionalGeneration" in message
    ok, message = check_stage(Settings(_env_file=None, musicgen=f"hf:{tmp_path}"), "audio")
    assert not ok and "could not load" in message
    assert not check_stage(Settings(_env_file=None), "paint")[0]


def test_check_stage_asks_an_openai_server() -> None:
    models = json.dumps({"data": [{"id": "tiny"}]})
    with ScriptedServer([(200, models)]) as server:
        ok, message = check_stage(Settings(_env_file=None, compose=server.reference()), "compose")
    assert ok and "model listed" in message
    assert server.paths == ["/v1/models"]
