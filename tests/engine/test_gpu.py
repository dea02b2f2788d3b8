"""The neural backends on a CUDA GPU in half precision, and the open_clip loader (marker gpu).

These need what only a lent GPU machine has: a CUDA GPU, and the torchvision that open_clip
imports (PyPI has none that loads beside the CPU build of torch that CI installs). pyproject
deselects them (``-m "not gpu"``); ``scripts/device_check.sh`` runs them there with
``-m gpu``. Each loads a tiny random model through the same code a real checkpoint takes and
checks that the weights sit on the GPU in bf16/fp16 and that the stage still gives a valid
result — for CLIP, the same embeddings as float32 on the CPU within half precision's rounding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from engine.audio import load_audio_generator
from engine.bridge import load_bridge
from engine.compose import load_composer
from engine.compose.llm import seeing
from engine.config import Settings
from engine.perceive import load_perceiver
from engine.perceive.analytic import AnalyticPerceiver
from engine.render.audio import Audio
from engine.render.midi import abc_to_score
from engine.retrieve.clip import load_clip_embedder
from engine.types import ImageInfo
from tests.engine.neural_models import CAPTION_WORDS, TinyModels, build_open_clip

pytestmark = pytest.mark.gpu

INFO = ImageInfo(64, 48, "PNG", "RGB", 100, "0" * 64)


@pytest.fixture(scope="module", autouse=True)
def cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.fail("the gpu tests need a CUDA GPU: run scripts/device_check.sh on a GPU machine")


def _gpu(**options: Any) -> Settings:
    return Settings(_env_file=None, device="cuda", dtype="auto", **options)


def _assert_on_gpu_in_half(model: Any) -> None:
    import torch

    weights = next(model.parameters())
    assert weights.device.type == "cuda"
    assert weights.dtype in (torch.bfloat16, torch.float16)


def test_captioner(tiny_models: TinyModels) -> None:
    perceiver = load_perceiver(_gpu(perceive=f"hf:{tiny_models.captioner}"))
    _assert_on_gpu_in_half(perceiver.loaded.model)
    images = [Image.new("RGB", (64, 48), (i * 80, 60, 200 - i * 60)) for i in range(3)]
    batch = perceiver.perceive_batch(images, [INFO] * 3)
    assert len(batch) == 3
    for p in batch:
        assert p.neural_caption and set(p.neural_caption.split()) <= set(CAPTION_WORDS)


def test_llm_bridge_and_vision_composer(tiny_models: TinyModels) -> None:
    image = Image.new("RGB", (64, 48), (240, 200, 60))
    perception = AnalyticPerceiver().perceive(image, INFO)
    bridge = load_bridge(_gpu(bridge=f"hf:{tiny_models.llm}"))
    _assert_on_gpu_in_half(bridge.model.loaded.model)
    brief = bridge.bridge(perception, None, 20.0)
    assert brief.duration == 20.0 and 40 <= brief.tempo <= 220

    composer = load_composer(_gpu(compose=f"hf:{tiny_models.vlm}", compose_attempts=2))
    _assert_on_gpu_in_half(composer.model.loaded.model)
    with seeing(image):
        draft = composer.compose(brief, [], seed=1)
    # Random weights write no ABC: the bounded attempts end in the statistical composer.
    assert abc_to_score(draft.abc).note_num() > 0


def test_musicgen_and_melody(tiny_models: TinyModels) -> None:
    settings = _gpu(
        musicgen=f"hf:{tiny_models.musicgen}", musicgen_melody=f"hf:{tiny_models.musicgen_melody}"
    )
    gen = load_audio_generator(settings)
    _assert_on_gpu_in_half(gen.loaded.model)
    audio = gen.generate("calm piano", 0.05, seed=1)
    assert audio.samples.dtype == np.float32 and np.isfinite(audio.samples).all()
    assert audio.seconds > 0

    melody = load_audio_generator(settings, melody=True)
    _assert_on_gpu_in_half(melody.loaded.model)
    t = np.arange(44100) / 44100
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    follow = melody.generate(
        "folk fiddle", 0.05, seed=2, melody=Audio(np.stack([tone, tone], 1), 44100)
    )
    assert np.isfinite(follow.samples).all() and follow.seconds > 0


@pytest.mark.parametrize("kind", ["transformers", "open_clip"])
def test_clip_in_half_precision_matches_float32(
    kind: str, tiny_models: TinyModels, tmp_path: Path
) -> None:
    folder = tiny_models.clip if kind == "transformers" else build_open_clip(tmp_path / "oc")
    gpu = load_clip_embedder(_gpu(retrieve=f"clip:{folder}"))
    cpu = load_clip_embedder(Settings(_env_file=None, retrieve=f"clip:{folder}"))
    texts = ["a slow air in A minor", "a quick jig", "x" * 500]
    images = [Image.new("RGB", (50, 30), (9, 9, 200)), Image.new("L", (8, 8), 200)]
    for half, full in ((gpu.embed(texts), cpu.embed(texts)),
                       (gpu.embed_images(images), cpu.embed_images(images))):  # fmt: skip
        assert half.shape == full.shape and half.dtype == np.float32
        assert np.allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-3)
        # unit vectors: cosine similarity of the two precisions
        assert (half * full).sum(axis=1).min() > 0.99
