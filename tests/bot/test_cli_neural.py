"""`pictune compose` with a model in every stage, each loaded like a real checkpoint:
tiny random models in temporary folders and OpenAI-compatible servers on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from engine.config import get_settings
from tests import images
from tests.engine.neural_models import ScriptedServer, TinyModels, built, chat_reply
from tests.engine.retrieve.conftest import write_corpus

pytestmark = pytest.mark.slow

DESCRIPTION = "Calm folk air for violin and harp, in A minor, 4/4, 90 bpm."
TUNE = """X:1
T:Harbour Light
M:4/4
L:1/8
K:Am
"Am"A2 c2 e2 c2|"G"B2 d2 g4|"F"a2 g2 f2 e2|"E"e8|]"""


@pytest.fixture
def tiny_models() -> TinyModels:
    return built()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PICTUNE_CORPUS", str(write_corpus(tmp_path / "corpus")))
    monkeypatch.setenv("PICTUNE_REFINE_ROUNDS", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _compose(tmp_path: Path, *extra: str) -> tuple[int, Path, dict]:
    src = tmp_path / "in.png"
    src.write_bytes(images.photo_like(seed=5))
    out = tmp_path / "out"
    code = main(["compose", str(src), "--out", str(out), "--no-history", *extra])
    result = json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else {}
    return code, out, result


def test_symbolic_with_captioner_llm_bridge_clip_and_llm_composer(
    tmp_path: Path, tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = f"```abc\n{TUNE}\n```\nMotivation: the harbour light is calm, so the air rises gently."
    with (
        ScriptedServer([chat_reply(DESCRIPTION)]) as bridge,
        ScriptedServer([chat_reply(answer)]) as composer,
    ):
        monkeypatch.setenv("PICTUNE_PERCEIVE", f"hf:{tiny_models.captioner}")
        monkeypatch.setenv("PICTUNE_BRIDGE", bridge.reference())
        monkeypatch.setenv("PICTUNE_RETRIEVE", f"clip:{tiny_models.clip}")
        monkeypatch.setenv("PICTUNE_COMPOSE", composer.reference())
        code, out, result = _compose(tmp_path, "--duration", "10")
    assert code == 0
    assert {"piece.mp3", "piece.mid", "piece.abc", "score.png", "motivation.md"} <= {
        p.name for p in out.iterdir()
    }
    backends = result["backends"]
    assert backends["perceive"] == f"hf:{tiny_models.captioner.name}"
    assert backends["bridge"] == "llm:openai:tiny" and backends["compose"] == "llm:openai:tiny"
    assert backends["retrieve"] == f"clip:{tiny_models.clip}"
    assert result["perception"]["neural_caption"]
    assert result["brief"]["prompt"] == DESCRIPTION and result["brief"]["mode"] == "minor"
    assert "A2 c2 e2 c2" in (out / "piece.abc").read_text()
    assert "harbour light is calm" in (out / "motivation.md").read_text()
    # The composer saw the retrieved exemplars and, in round 1, its metrics.
    assert len(composer.requests) == 2
    assert "Example 1:" in composer.requests[0]["messages"][1]["content"]
    assert "refinement round 1" in composer.requests[1]["messages"][1]["content"]


def test_audio_and_hybrid_modes(
    tmp_path: Path, tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PICTUNE_PERCEIVE", f"hf:{tiny_models.vlm}")
    monkeypatch.setenv("PICTUNE_BRIDGE", f"hf:{tiny_models.llm}")
    monkeypatch.setenv("PICTUNE_COMPOSE", f"hf:{tiny_models.llm}")
    monkeypatch.setenv("PICTUNE_COMPOSE_ATTEMPTS", "1")
    monkeypatch.setenv("PICTUNE_REFINE_ROUNDS", "0")
    monkeypatch.setenv("PICTUNE_MUSICGEN", f"hf:{tiny_models.musicgen}")
    monkeypatch.setenv("PICTUNE_MUSICGEN_MELODY", f"hf:{tiny_models.musicgen_melody}")
    # The tiny codec makes 1000 frames a second: keep pieces short.
    monkeypatch.setenv("PICTUNE_MIN_DURATION", "0.01")
    monkeypatch.setenv("PICTUNE_MAX_DURATION", "0.1")
    get_settings.cache_clear()

    code, out, result = _compose(tmp_path, "--mode", "audio", "--duration", "0.05")
    assert code == 0, result
    assert {p.name for p in out.iterdir()} == {"piece.mp3", "motivation.md", "result.json"}
    assert result["backends"]["audio"] == f"hf:{tiny_models.musicgen.name}"
    assert result["abc"] == "" and 0.03 < result["audio_seconds"] < 0.08

    (out / "result.json").unlink()
    code, out, result = _compose(tmp_path, "--mode", "hybrid", "--duration", "0.05")
    assert code == 0, result
    assert {"piece.mp3", "piece.mid", "piece.abc"} <= {p.name for p in out.iterdir()}
    assert result["backends"]["audio"] == f"hf:{tiny_models.musicgen_melody.name}"
    # Random weights write no usable ABC: the statistical composer stepped in, and said so.
    assert "statistical composer" in (out / "motivation.md").read_text()


def test_a_failing_model_stage_degrades_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PICTUNE_BRIDGE", "openai:http://127.0.0.1:9/v1#gone")  # nothing listens
    monkeypatch.setenv("PICTUNE_LLM_RETRIES", "0")
    monkeypatch.setenv("PICTUNE_PERCEIVE", f"hf:{tmp_path}")  # a folder without weights
    code, out, result = _compose(tmp_path, "--duration", "8")
    assert code == 0
    motivation = (out / "motivation.md").read_text()
    assert "bridge failed on this piece, so the rules bridge was used" in motivation
    assert "image model could not be loaded here" in motivation
    assert result["backends"]["bridge"] == "llm:openai:gone"
