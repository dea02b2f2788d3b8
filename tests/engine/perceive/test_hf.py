"""Neural perception with tiny random models loaded like real checkpoints."""

from __future__ import annotations

import pytest
from PIL import Image

from engine.config import Settings
from engine.errors import ConfigError
from engine.perceive import load_perceiver
from engine.perceive.analytic import AnalyticPerceiver
from engine.perceive.hf import MAX_CAPTION_CHARS, HFPerceiver, clean_caption
from engine.types import ImageInfo
from tests.engine.neural_models import CAPTION_WORDS, TinyModels


def _image(
    colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)
) -> tuple[Image.Image, ImageInfo]:
    return Image.new("RGB", size, colour), ImageInfo(size[0], size[1], "PNG", "RGB", 100, "0" * 64)


def test_captioner_adds_a_caption_to_the_analytic_features(tiny_models: TinyModels) -> None:
    perceiver = load_perceiver(Settings(_env_file=None, perceive=f"hf:{tiny_models.captioner}"))
    assert isinstance(perceiver, HFPerceiver) and not perceiver.chat
    image, info = _image((200, 40, 30))
    p = perceiver.perceive(image, info)
    analytic = AnalyticPerceiver().perceive(image, info)
    assert p.neural_caption and set(p.neural_caption.split()) <= set(CAPTION_WORDS)
    assert p.caption.startswith(p.neural_caption[:20]) and p.caption.endswith(analytic.caption)
    assert (p.brightness, p.warmth, p.dominant_colours) == (
        analytic.brightness,
        analytic.warmth,
        analytic.dominant_colours,
    )
    assert p.backend == f"hf:{tiny_models.captioner.name}"


def test_batches_give_one_perception_per_image(tiny_models: TinyModels) -> None:
    perceiver = load_perceiver(Settings(_env_file=None, perceive=f"hf:{tiny_models.captioner}"))
    pairs = [_image((i * 60, 100, 255 - i * 60), (30 + 10 * i, 40)) for i in range(3)]
    batch = perceiver.perceive_batch([p[0] for p in pairs], [p[1] for p in pairs])
    assert len(batch) == 3
    single = perceiver.perceive(*pairs[1])
    assert batch[1].neural_caption == single.neural_caption  # batching does not change results
    assert [b.aspect for b in batch] == [round((30 + 10 * i) / 40, 4) for i in range(3)]


def test_chat_vlm_is_asked_with_its_template(tiny_models: TinyModels) -> None:
    perceiver = load_perceiver(Settings(_env_file=None, perceive=f"hf:{tiny_models.vlm}"))
    assert isinstance(perceiver, HFPerceiver) and perceiver.chat
    inputs = perceiver._chat_inputs([Image.new("RGB", (40, 40)), Image.new("RGB", (20, 60))])
    assert inputs["pixel_values"].shape[0] == 2
    out = perceiver.perceive_batch(
        *zip(*[_image((10, 10, 200)), _image((250, 250, 0))], strict=True)
    )
    assert len(out) == 2
    for p in out:
        assert len(p.caption) > 0 and "\ufffd" not in (p.neural_caption or "")
        assert len(p.neural_caption or "") <= MAX_CAPTION_CHARS + 1


def test_clean_caption() -> None:
    assert clean_caption("a picture of  a dog\x00 on\na beach") == "a dog on a beach"
    assert len(clean_caption("word " * 200)) <= MAX_CAPTION_CHARS + 1
    assert clean_caption("\ufffd\ufffd") == ""


def test_unknown_perceiver_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError):
        load_perceiver(Settings(_env_file=None, perceive="blip"))
    with pytest.raises(ConfigError):
        load_perceiver(Settings(_env_file=None, perceive=f"hf:{tmp_path}"))
