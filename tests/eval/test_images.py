from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from eval.images import SCENE_KINDS, image_set, scene_array, spread


def test_image_set_has_at_least_100_named_images_with_sources() -> None:
    images = image_set()
    assert len(images) >= 100
    assert len({im.name for im in images}) == len(images)
    assert all(im.source and im.licence for im in images)
    assert {im.kind for im in images} >= {"photo", "photo_like", *SCENE_KINDS}


@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_scenes_are_deterministic_and_vary_with_seed(kind: str) -> None:
    a, b, c = scene_array(kind, 0), scene_array(kind, 0), scene_array(kind, 1)
    assert a.shape == (192, 256, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.std() > 2  # not a flat colour


def test_unknown_scene_kind() -> None:
    with pytest.raises(ValueError):
        scene_array("volcano", 0)


def test_a_photo_and_a_scene_decode_as_png() -> None:
    images = {im.name: im for im in image_set()}
    for name in ("skimage/coffee", "scene/sunset/0", "photo_like/0"):
        im = Image.open(io.BytesIO(images[name].bytes()))
        assert im.format == "PNG" and im.width > 0


def test_spread_keeps_ends_and_size() -> None:
    images = image_set()
    some = spread(images, 10)
    assert len(some) == 10 and some[0] is images[0] and some[-1] is images[-1]
    assert spread(images[:3], 10) == images[:3]
