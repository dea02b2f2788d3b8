"""The pipeline's render step: audio encoded while the score picture is drawn, once, and
hybrid mode's replaced audio encoded after MusicGen."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from engine import pipeline as pipeline_module
from engine.config import Settings
from engine.pipeline import Pipeline
from engine.render.audio import Audio
from engine.render.encode import decode_audio, encode_audio
from engine.types import ComposeRequest


def _image() -> bytes:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(Settings(_env_file=None))


def test_symbolic_audio_is_encoded_once_while_the_picture_is_drawn(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Audio] = []

    def counting(audio: Audio, fmt: str = "mp3") -> bytes:
        calls.append(audio)
        return encode_audio(audio, fmt)

    monkeypatch.setattr(pipeline_module, "encode_audio", counting)
    piece = pipeline.run(ComposeRequest(image=_image(), duration=8.0, refine_rounds=0, seed=1))
    assert len(calls) == 1
    assert piece.audio == encode_audio(calls[0], "mp3")
    assert piece.score_png.startswith(b"\x89PNG")
    assert {"midi", "audio", "encode", "score"} <= set(piece.timings)
    decoded = decode_audio(piece.audio)
    assert decoded.seconds == pytest.approx(piece.audio_seconds, abs=0.1)


def test_the_same_seed_gives_the_same_bytes(pipeline: Pipeline) -> None:
    request = ComposeRequest(image=_image(), duration=8.0, refine_rounds=0, seed=2)
    first, second = pipeline.run(request), pipeline.run(request)
    assert first.audio == second.audio
    assert first.score_png == second.score_png


def test_hybrid_encodes_the_audio_musicgen_made(monkeypatch: pytest.MonkeyPatch) -> None:
    replaced = Audio(np.full((44100, 2), 0.1, dtype=np.float32), 44100)

    class FakeMelodyGenerator:
        name = "fake-musicgen-melody"

        def generate(self, prompt: str, seconds: float, seed: int, melody: Audio) -> Audio:
            assert melody.seconds > 1.0  # the rendered piece it follows
            return replaced

    monkeypatch.setattr(
        pipeline_module, "load_audio_generator", lambda *a, **k: FakeMelodyGenerator()
    )
    settings = Settings(_env_file=None, musicgen_melody="hf:fake/melody")
    piece = Pipeline(settings).run(
        ComposeRequest(image=_image(), duration=8.0, refine_rounds=0, seed=1, mode="hybrid")
    )
    assert piece.audio == encode_audio(replaced, "mp3")
    assert piece.backends["audio"] == "fake-musicgen-melody"
    assert piece.score_png.startswith(b"\x89PNG")
