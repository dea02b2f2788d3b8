"""The evaluation's image set: freely redistributable pictures, made or bundled right here.

Two sources, both reproducible on any machine with no network:

- **Photographs** bundled with scikit-image (``skimage.data``), each public domain or CC0 as
  its own docstring states (listed in ``SKIMAGE_SAMPLES`` with the licence).
- **Procedural scenes** drawn by ``scene(kind, seed)``: sunsets, night skies, forests, seas,
  deserts, snow, cities at night, meadows, storms and abstract patterns, each with random
  (seeded) colours, light and texture; and ``photo_like`` pictures from ``tests/images.py``
  with random looks. Made by this code, so free of any rights.

Every image is a PNG upload (bytes), exactly what a user would send.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

SCENE_SIZE = (256, 192)  # width, height: perception looks at <= 256 px anyway

# skimage.data function -> (what it shows, licence as its docstring states it).
SKIMAGE_SAMPLES: dict[str, tuple[str, str]] = {
    "astronaut": ("portrait of astronaut Eileen Collins (NASA)", "public domain"),
    "brick": ("brick wall texture (CC0Textures)", "CC0"),
    "camera": ("man with a camera, greyscale (Lav Varshney)", "CC0"),
    "cell": ("cell under a microscope", "CC0"),
    "chelsea": ("Chelsea the cat (Stefan van der Walt)", "CC0"),
    "coffee": ("cup of coffee (Rachel Michetti)", "CC0"),
    "coins": ("Greek coins (Brooklyn Museum)", "no known copyright restrictions"),
    "grass": ("grass texture (CC0Textures)", "CC0"),
    "gravel": ("gravel texture (CC0Textures)", "CC0"),
    "horse": ("horse silhouette (Andreas Preuss)", "CC0"),
    "hubble_deep_field": ("Hubble deep field (NASA)", "public domain"),
    "immunohistochemistry": ("stained tissue sample", "no known copyright restrictions"),
    "microaneurysms": ("retina detail, greyscale (Andreas Maier)", "CC0"),
    "retina": ("fundus photograph of a left eye (Mikael Häggström)", "CC0"),
    "rocket": ("SpaceX Falcon 9 launch", "public domain"),
    "text": ("scanned text, greyscale", "public domain"),
    "clock": ("wall clock with motion blur (Stefan van der Walt)", "public domain"),
}

SCENE_KINDS: tuple[str, ...] = (
    "sunset",
    "night_sky",
    "forest",
    "sea",
    "desert",
    "snow",
    "city_night",
    "meadow",
    "storm",
    "abstract",
)


@dataclass(frozen=True)
class EvalImage:
    name: str  # unique, stable: used as the cache key and in tables
    kind: str  # "photo", a scene kind, or "photo_like"
    source: str  # where it comes from, in words
    licence: str
    make: Callable[[], bytes]  # -> PNG bytes, deterministic

    def bytes(self) -> bytes:
        return self.make()


def png(array: np.ndarray) -> bytes:
    """uint8 (H, W), (H, W, 3) or (H, W, 4) array -> PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG")
    return buf.getvalue()


def skimage_png(name: str) -> bytes:
    import skimage.data

    return png(getattr(skimage.data, name)())


# ---------------------------------------------------------------- procedural scenes


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t[..., None]


def _jitter(
    rng: np.random.Generator, colour: tuple[int, int, int], amount: float = 25
) -> np.ndarray:
    return np.clip(np.asarray(colour, dtype=np.float32) + rng.normal(0, amount, 3), 0, 255)


def _ridge(rng: np.random.Generator, width: int, base: float, roughness: float) -> np.ndarray:
    """A horizon line (row per column, as a fraction of height): smoothed random walk."""
    steps = rng.normal(0, roughness, width).cumsum()
    kernel = np.ones(9) / 9
    line = np.convolve(steps, kernel, mode="same")
    return base + line - line.mean()


def _fill_below(img: np.ndarray, line: np.ndarray, colour: np.ndarray, shade: float = 0.0) -> None:
    h = img.shape[0]
    rows = np.arange(h, dtype=np.float32)[:, None] / h
    mask = rows >= line[None, :]
    depth = np.clip((rows - line[None, :]) * 2, 0, 1)[..., None]
    fill = colour * (1 - shade * depth)
    img[:] = np.where(mask[..., None], fill, img)


def _disc(img: np.ndarray, cx: float, cy: float, r: float, colour: np.ndarray, glow: float) -> None:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(xx / w - cx, (yy / h - cy) * h / w)
    core = (d <= r)[..., None]
    halo = np.exp(-((((d - r).clip(0)) / max(glow, 1e-3)) ** 2))[..., None] * (glow > 0)
    img[:] = img + (colour - img) * np.maximum(core, 0.6 * halo)


def _noise(rng: np.random.Generator, img: np.ndarray, amount: float) -> None:
    img += rng.normal(0, amount, img.shape[:2])[..., None]


def scene_array(kind: str, seed: int, size: tuple[int, int] = SCENE_SIZE) -> np.ndarray:
    """One procedural scene as an (H, W, 3) uint8 array. Deterministic in (kind, seed)."""
    if kind not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind {kind!r}")
    w, h = size
    rng = np.random.default_rng([SCENE_KINDS.index(kind), seed])
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None].repeat(w, 1)
    img = np.zeros((h, w, 3), dtype=np.float32)
    horizon = rng.uniform(0.45, 0.75)

    if kind == "sunset":
        img[:] = _lerp(_jitter(rng, (250, 120, 40)), _jitter(rng, (60, 30, 90)), 1 - t)
        _disc(img, rng.uniform(0.2, 0.8), horizon - 0.05, 0.07, _jitter(rng, (255, 220, 120)), 0.15)
        _fill_below(img, _ridge(rng, w, horizon, 0.01), _jitter(rng, (40, 20, 30), 10), 0.5)
    elif kind == "night_sky":
        img[:] = _lerp(_jitter(rng, (5, 5, 25), 5), _jitter(rng, (20, 30, 70), 10), t)
        ys, xs = rng.integers(0, int(h * horizon), 150), rng.integers(0, w, 150)
        img[ys, xs] = rng.uniform(150, 255, (150, 1))
        _disc(
            img,
            rng.uniform(0.1, 0.9),
            rng.uniform(0.1, 0.3),
            0.04,
            _jitter(rng, (240, 240, 220), 10),
            0.05,
        )
        _fill_below(img, _ridge(rng, w, horizon, 0.015), _jitter(rng, (10, 10, 15), 5))
    elif kind == "forest":
        img[:] = _lerp(_jitter(rng, (170, 200, 230)), _jitter(rng, (210, 225, 235)), t)
        green = _jitter(rng, (30, 90, 40), 20)
        for _ in range(int(rng.integers(25, 60))):
            cx, top = rng.uniform(0, 1), rng.uniform(0.15, horizon)
            half = rng.uniform(0.03, 0.08)
            rows = np.arange(h) / h
            for y in np.nonzero(rows >= top)[0]:
                span = half * (rows[y] - top) / (1 - top) * 2
                x0, x1 = int((cx - span) * w), int((cx + span) * w) + 1
                img[y, max(0, x0) : max(0, x1)] = green * rng.uniform(0.6, 1.1)
        _noise(rng, img, 12)
    elif kind == "sea":
        sky = _lerp(_jitter(rng, (120, 170, 230)), _jitter(rng, (230, 240, 250)), t / horizon)
        sea = _lerp(
            _jitter(rng, (30, 90, 150)), _jitter(rng, (10, 40, 80)), (t - horizon) / (1 - horizon)
        )
        img[:] = np.where((t < horizon)[..., None], sky, sea)
        waves = np.sin(np.arange(w)[None, :] * rng.uniform(0.1, 0.4) + t * 200) * 12
        img += (waves * (t > horizon))[..., None]
    elif kind == "desert":
        img[:] = _lerp(_jitter(rng, (90, 150, 220)), _jitter(rng, (240, 220, 190)), t)
        _disc(
            img,
            rng.uniform(0.2, 0.8),
            rng.uniform(0.08, 0.2),
            0.05,
            _jitter(rng, (255, 250, 220), 5),
            0.1,
        )
        for level in (horizon, horizon + 0.1):
            _fill_below(img, _ridge(rng, w, level, 0.02), _jitter(rng, (220, 170, 100)), 0.3)
        _noise(rng, img, 6)
    elif kind == "snow":
        img[:] = _lerp(_jitter(rng, (200, 210, 225), 10), _jitter(rng, (235, 240, 248), 5), t)
        _fill_below(
            img, _ridge(rng, w, horizon - 0.15, 0.02), _jitter(rng, (150, 160, 180), 10), 0.2
        )
        _fill_below(
            img, _ridge(rng, w, horizon + 0.05, 0.01), _jitter(rng, (245, 248, 252), 3), 0.1
        )
        _noise(rng, img, 4)
    elif kind == "city_night":
        img[:] = _lerp(_jitter(rng, (10, 10, 40), 8), _jitter(rng, (60, 30, 70), 15), t)
        x = 0
        while x < w:
            bw, bh = int(rng.integers(12, 40)), rng.uniform(0.2, 0.7)
            top = int(h * (1 - bh))
            img[top:, x : x + bw] = _jitter(rng, (25, 25, 35), 8)
            lit = rng.random(((h - top) // 6 + 1, bw // 5 + 1)) < rng.uniform(0.2, 0.6)
            for r, c in zip(*np.nonzero(lit), strict=True):
                y0, x0 = top + 3 + r * 6, x + 2 + c * 5
                img[y0 : y0 + 3, x0 : min(x0 + 2, x + bw - 1)] = _jitter(rng, (255, 210, 120), 20)
            x += bw + int(rng.integers(0, 4))
    elif kind == "meadow":
        img[:] = _lerp(_jitter(rng, (110, 170, 240)), _jitter(rng, (200, 225, 245)), t)
        _fill_below(img, _ridge(rng, w, horizon, 0.008), _jitter(rng, (90, 170, 60)), 0.3)
        n = int(rng.integers(40, 200))
        ys, xs = rng.integers(int(h * horizon) + 5, h, n), rng.integers(0, w, n)
        colours = np.array(
            [_jitter(rng, c, 20) for c in ((240, 60, 60), (250, 220, 60), (250, 250, 250))]
        )
        img[ys, xs] = colours[rng.integers(0, 3, n)]
        _noise(rng, img, 10)
    elif kind == "storm":
        img[:] = _lerp(_jitter(rng, (50, 55, 65), 10), _jitter(rng, (100, 105, 110), 10), t)
        _noise(rng, img, 18)
        x = rng.uniform(0.2, 0.8) * w
        for y in range(int(h * horizon)):  # a lightning bolt
            x = float(np.clip(x + rng.normal(0, 2), 0, w - 2))
            img[y, int(x) : int(x) + 2] = 250
        _fill_below(img, _ridge(rng, w, horizon, 0.01), _jitter(rng, (30, 40, 30), 10))
    else:  # abstract: stripes and circles in random colours
        a, b = (
            _jitter(rng, tuple(rng.integers(0, 256, 3)), 0),
            _jitter(rng, tuple(rng.integers(0, 256, 3)), 0),
        )
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * rng.uniform(0.02, 0.3))
        img[:] = _lerp(a, b, (wave + 1) / 2)
        for _ in range(int(rng.integers(1, 6))):
            _disc(
                img,
                rng.uniform(0, 1),
                rng.uniform(0, 1),
                rng.uniform(0.03, 0.2),
                _jitter(rng, tuple(rng.integers(0, 256, 3)), 0),
                0.0,
            )

    # A random exposure and colour cast, so scenes of one kind are not all alike.
    img = img * rng.uniform(0.7, 1.2) + rng.normal(0, 8, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def scene(kind: str, seed: int) -> bytes:
    return png(scene_array(kind, seed))


def _photo_like(seed: int) -> bytes:
    from tests.images import photo_like

    rng = np.random.default_rng([99, seed])
    return photo_like(
        seed,
        brightness=float(rng.uniform(0.1, 0.9)),
        warmth=float(rng.uniform(-1, 1)),
        saturation=float(rng.uniform(0.05, 1)),
        texture=float(rng.uniform(0, 0.8)),
        symmetric=bool(rng.random() < 0.4),
        light_y=float(rng.uniform(0.1, 0.9)) if rng.random() < 0.5 else None,
        size=SCENE_SIZE,
    )


def image_set(scenes_per_kind: int = 8, photo_like_count: int = 8) -> list[EvalImage]:
    """All skimage photographs, ``scenes_per_kind`` scenes of every kind, and
    ``photo_like_count`` random photo_like pictures. The default is 105 images."""
    out = [
        EvalImage(
            f"skimage/{name}",
            "photo",
            f"scikit-image `skimage.data.{name}()`: {what}",
            licence,
            lambda name=name: skimage_png(name),
        )
        for name, (what, licence) in SKIMAGE_SAMPLES.items()
    ]
    for seed in range(scenes_per_kind):
        for kind in SCENE_KINDS:
            out.append(
                EvalImage(
                    f"scene/{kind}/{seed}",
                    kind,
                    f"procedural {kind.replace('_', ' ')} scene (eval/images.py, seed {seed})",
                    "made by this code (MIT)",
                    lambda kind=kind, seed=seed: scene(kind, seed),
                )
            )
    for seed in range(photo_like_count):
        out.append(
            EvalImage(
                f"photo_like/{seed}",
                "photo_like",
                f"procedural photo_like picture with random looks (tests/images.py, seed {seed})",
                "made by this code (MIT)",
                lambda seed=seed: _photo_like(seed),
            )
        )
    return out


def spread(images: list[EvalImage], n: int) -> list[EvalImage]:
    """``n`` images spread evenly over the list (all photographs come first, so a subset
    keeps photographs, every scene kind and some photo_like pictures)."""
    if n >= len(images):
        return list(images)
    idx = np.linspace(0, len(images) - 1, n).round().astype(int)
    return [images[i] for i in idx]
