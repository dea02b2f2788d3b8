from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from engine.config import Settings
from engine.errors import ConfigError
from engine.image import decode_image
from engine.perceive import load_perceiver
from engine.perceive.analytic import AnalyticPerceiver
from engine.perceive.colours import name_colour
from engine.types import Perception, to_dict
from tests import images as T

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


def perceive(data: bytes) -> Perception:
    decoded = decode_image(data)
    return AnalyticPerceiver().perceive(decoded.image, decoded.info)


def check_ranges(p: Perception) -> None:
    for name in (
        "brightness",
        "contrast",
        "saturation",
        "colourfulness",
        "hue_spread",
        "edge_density",
        "texture",
        "symmetry",
        "motion",
    ):
        value = getattr(p, name)
        assert isinstance(value, float), name
        assert 0.0 <= value <= 1.0, (name, value)
    assert -1.0 <= p.warmth <= 1.0
    for centre in (p.light_centre, p.detail_centre):
        assert all(0.0 <= v <= 1.0 for v in centre)
    assert p.dominant_colours and p.dominant_colours[0].share > 0
    assert sum(c.share for c in p.dominant_colours) <= 1.0 + 1e-6
    assert p.caption and p.caption.endswith(".")
    assert p.backend == "analytic"


@pytest.mark.parametrize("name", sorted(T.UNUSUAL))
def test_every_unusual_image_gives_features_in_range(name: str) -> None:
    p = perceive(T.UNUSUAL[name]())
    check_ranges(p)
    json.dumps(to_dict(p))  # plain Python numbers, storable as JSON


def test_samples_perceive_and_round_trip() -> None:
    files = sorted(SAMPLES.glob("*.png")) + sorted(SAMPLES.glob("*.jpg"))
    assert len(files) >= 3
    for path in files:
        assert path.stat().st_size <= 300_000
        p = perceive(path.read_bytes())
        check_ranges(p)
        assert Perception.from_dict(json.loads(json.dumps(to_dict(p)))) == p


def test_darker_is_less_bright() -> None:
    values = [perceive(T.photo_like(1, brightness=b)).brightness for b in (0.15, 0.4, 0.65, 0.9)]
    assert values == sorted(values) and values[-1] - values[0] > 0.4


def test_bluer_is_cooler() -> None:
    values = [perceive(T.photo_like(2, warmth=w)).warmth for w in (-1.0, -0.4, 0.2, 0.8)]
    assert values == sorted(values)
    assert values[0] < -0.2 and values[-1] > 0.2


def test_more_saturated_is_more_colourful() -> None:
    ps = [perceive(T.photo_like(3, saturation=s, warmth=0.6)) for s in (0.05, 0.4, 0.9)]
    assert [p.saturation for p in ps] == sorted(p.saturation for p in ps)
    assert [p.colourfulness for p in ps] == sorted(p.colourfulness for p in ps)


def test_noise_raises_edges_and_texture() -> None:
    smooth, noisy = perceive(T.photo_like(4, texture=0.0)), perceive(T.photo_like(4, texture=0.8))
    assert noisy.edge_density > smooth.edge_density + 0.3
    assert noisy.texture > smooth.texture + 0.3


def test_mirror_symmetric_is_more_symmetric() -> None:
    plain = perceive(T.photo_like(5, texture=0.1))
    mirrored = perceive(T.photo_like(5, texture=0.1, symmetric=True))
    assert mirrored.symmetry > 0.95
    assert mirrored.symmetry > plain.symmetry + 0.2


def test_light_centre_follows_the_light() -> None:
    high = perceive(T.photo_like(6, light_y=0.15))
    low = perceive(T.photo_like(6, light_y=0.85))
    assert high.light_centre[1] < 0.4 < 0.6 < low.light_centre[1]


def test_detail_centre_follows_the_detail() -> None:
    from PIL import Image

    im = T.photo_like_image(7, texture=0.0)
    im.paste(T.photo_like_image(8, texture=1.0, size=(40, 30)), (0, 0))  # busy top-left corner
    p = perceive(T.encode(im))
    assert p.detail_centre[0] < 0.4 and p.detail_centre[1] < 0.4
    assert isinstance(im, Image.Image)


def test_caption_names_a_dominant_colour_and_tone() -> None:
    dark_blue = T.encode(
        T.photo_like_image(9, brightness=0.4, warmth=-1.0, saturation=0.8, texture=0.0)
    )
    p = perceive(dark_blue)
    assert p.dominant_colours[0].name in p.caption
    assert "dark" in p.caption and ("cool" in p.caption or "cold" in p.caption)
    assert p.warmth < -0.3


def test_motion_comes_from_the_decoded_animation() -> None:
    p = perceive(T.animated_gif())
    assert p.motion > 0.01
    assert "animation" in p.caption


def test_colour_names() -> None:
    assert name_colour((0, 0, 0)) == "black"
    assert name_colour((255, 255, 255)) == "white"
    assert name_colour((220, 30, 30)) == "red"
    assert name_colour((20, 40, 120)) == "deep blue"
    assert name_colour((245, 130, 20)) == "orange"
    assert name_colour((128, 128, 128)) == "grey"


def test_perception_is_deterministic() -> None:
    data = T.photo_like(10, warmth=0.4)
    assert dataclasses.asdict(perceive(data)) == dataclasses.asdict(perceive(data))


def test_load_perceiver(settings: Settings) -> None:
    assert load_perceiver(settings).name == "analytic"
    with pytest.raises(ConfigError) as caught:
        load_perceiver(settings.model_copy(update={"perceive": "magic"}))
    assert "magic" in str(caught.value)
