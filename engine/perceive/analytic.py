"""Perception without a model: colour statistics, edges, symmetry and a caption built from them.

Everything is measured on a copy shrunk to at most 256 pixels a side (64 for symmetry, 96 for
the palette), so a picture of any size costs a few milliseconds and the features do not depend
on the camera's resolution.

| feature | how | range |
|---|---|---|
| brightness | mean luma (Rec. 709 weights on sRGB values) | 0..1 |
| contrast | standard deviation of luma / 0.5 (the largest possible) | 0..1 |
| saturation | mean HSV saturation; near-black pixels count as 0 | 0..1 |
| colourfulness | Hasler and Süsstrunk (2003) M, divided by 110 ("extremely colourful") | 0..1 |
| warmth | tanh(2.5 * mean(chroma * cos(hue - 30°))): orange +, azure − | −1..1 |
| hue_spread | 1 − length of the chroma-weighted mean hue vector | 0..1 |
| edge_density | share of pixels whose luma gradient exceeds 0.08 | 0..1 |
| texture | mean standard deviation of luma in 4×4 blocks / 0.15 | 0..1 |
| symmetry | 1 − mean abs(left−right mirror difference) / 0.35, at 64 px | 0..1 |
| light_centre | centroid of luma above its mean | (x, y) 0..1 |
| detail_centre | centroid of gradient magnitude | (x, y) 0..1 |
| dominant colours | median cut to 6 colours at 96 px, named in CIELAB, same names merged | shares |
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from engine.perceive.colours import COOL_NAMES, WARM_NAMES, name_colours
from engine.types import ImageInfo, NamedColour, Perception

WORK_SIDE = 256
SYMMETRY_SIDE = 64
PALETTE_SIDE = 96
PALETTE_SIZE = 6
MIN_COLOUR_SHARE = 0.04
MAX_COLOURS = 5

EDGE_THRESHOLD = 0.08  # luma step between neighbours that counts as an edge
TEXTURE_SCALE = 0.15  # local standard deviation that counts as full texture
SYMMETRY_SCALE = 0.35  # mirror difference that counts as no symmetry at all
COLOURFULNESS_SCALE = 110.0  # Hasler-Süsstrunk "extremely colourful"
WARM_HUE = 30.0  # degrees: orange is the warmest hue, its opposite (210°, azure) the coolest


class AnalyticPerceiver:
    """Deterministic, numpy-only perception. Runs in milliseconds on any picture size."""

    name = "analytic"

    def perceive(self, image: Image.Image, info: ImageInfo) -> Perception:
        if image.mode != "RGB":
            image = image.convert("RGB")
        small = _shrink(image, WORK_SIDE)
        rgb = np.asarray(small, dtype=np.float32) / 255.0
        luma = rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)

        hue, chroma, value = _hue_chroma(rgb)
        magnitude, offset = _gradient(luma)
        colours = dominant_colours(small)
        perception = Perception(
            brightness=_unit(luma.mean()),
            contrast=_unit(luma.std() / 0.5),
            saturation=_saturation(chroma, value),
            colourfulness=_colourfulness(rgb),
            warmth=_warmth(hue, chroma),
            hue_spread=_hue_spread(hue, chroma),
            edge_density=_unit((magnitude > EDGE_THRESHOLD).mean()) if magnitude.size else 0.0,
            texture=_texture(luma),
            symmetry=_symmetry(small),
            light_centre=_centroid(np.maximum(luma - luma.mean(), 0.0)),
            detail_centre=_centroid(magnitude, offset),
            dominant_colours=colours,
            caption="",
            aspect=round(image.width / image.height, 4),
            motion=float(info.motion),
            backend=self.name,
        )
        perception.caption = caption(perception, frames=info.frames)
        return perception


# ---------------------------------------------------------------- features


def _shrink(image: Image.Image, side: int) -> Image.Image:
    width, height = image.size
    scale = side / max(width, height)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _unit(x: float) -> float:
    return float(np.clip(x, 0.0, 1.0))


def _hue_chroma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees, chroma (max − min) and value (max) per pixel."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = np.maximum(np.maximum(r, g), b)
    chroma = value - np.minimum(np.minimum(r, g), b)
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.where(
        value == r,
        ((g - b) / safe) % 6.0,
        np.where(value == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0),
    )
    return hue * 60.0, chroma, value


def _saturation(chroma: np.ndarray, value: np.ndarray) -> float:
    # HSV saturation is unstable in near-black pixels (tiny noise, huge saturation).
    sat = np.where(value > 0.06, chroma / np.maximum(value, 1e-6), 0.0)
    return _unit(sat.mean())


def _colourfulness(rgb: np.ndarray) -> float:
    rgb255 = rgb * 255.0
    rg = rgb255[..., 0] - rgb255[..., 1]
    yb = 0.5 * (rgb255[..., 0] + rgb255[..., 1]) - rgb255[..., 2]
    m = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    return _unit(m / COLOURFULNESS_SCALE)


def _warmth(hue: np.ndarray, chroma: np.ndarray) -> float:
    lean = float(np.mean(chroma * np.cos(np.radians(hue - WARM_HUE))))
    return float(np.clip(math.tanh(2.5 * lean), -1.0, 1.0))


def _hue_spread(hue: np.ndarray, chroma: np.ndarray) -> float:
    total = float(chroma.sum())
    if total < 1e-6:
        return 0.0
    angles = np.radians(hue)
    resultant = math.hypot(
        float((chroma * np.cos(angles)).sum()), float((chroma * np.sin(angles)).sum())
    )
    return _unit(1.0 - resultant / total)


def _gradient(luma: np.ndarray) -> tuple[np.ndarray, float]:
    """Gradient magnitude between neighbouring pixels, and the half-pixel offset of its grid."""
    height, width = luma.shape
    if height >= 2 and width >= 2:
        gx = np.diff(luma, axis=1)[:-1, :]
        gy = np.diff(luma, axis=0)[:, :-1]
        return np.hypot(gx, gy), 0.5
    if width >= 2:  # a single row
        return np.abs(np.diff(luma, axis=1)), 0.5
    if height >= 2:  # a single column
        return np.abs(np.diff(luma, axis=0)), 0.5
    return np.zeros((0, 0), dtype=np.float32), 0.0


def _texture(luma: np.ndarray, block: int = 4) -> float:
    height, width = (s - s % block for s in luma.shape)
    if height == 0 or width == 0:
        return _unit(luma.std() / TEXTURE_SCALE)
    tiles = luma[:height, :width].reshape(height // block, block, width // block, block)
    return _unit(tiles.std(axis=(1, 3)).mean() / TEXTURE_SCALE)


def _symmetry(image: Image.Image) -> float:
    small = np.asarray(_shrink(image, SYMMETRY_SIDE), dtype=np.float32) / 255.0
    difference = float(np.abs(small - small[:, ::-1]).mean())
    return _unit(1.0 - difference / SYMMETRY_SCALE)


def _centroid(weights: np.ndarray, offset: float = 0.0) -> tuple[float, float]:
    """Weighted centre (x, y), 0..1 from the top left; the middle when there is no weight."""
    if weights.ndim != 2 or weights.size == 0 or float(weights.sum()) < 1e-9:
        return (0.5, 0.5)
    height, width = weights.shape
    # Pixel centres; a gradient grid sits half a pixel further on.
    xs = (np.arange(width) + 0.5 + offset) / (width + 2 * offset)
    ys = (np.arange(height) + 0.5 + offset) / (height + 2 * offset)
    total = float(weights.sum())
    x = float((weights.sum(axis=0) * xs).sum() / total)
    y = float((weights.sum(axis=1) * ys).sum() / total)
    return (round(_unit(x), 4), round(_unit(y), 4))


def dominant_colours(image: Image.Image) -> list[NamedColour]:
    """Up to five named colours with their share of the picture, largest first."""
    small = _shrink(image if image.mode == "RGB" else image.convert("RGB"), PALETTE_SIDE)
    quantised = small.quantize(
        colors=PALETTE_SIZE, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    palette = np.array(quantised.getpalette()[: 3 * PALETTE_SIZE], dtype=np.float64).reshape(-1, 3)
    counts = np.bincount(np.asarray(quantised).ravel(), minlength=len(palette))[: len(palette)]
    used = counts > 0
    palette, counts = palette[used], counts[used]
    names = name_colours(palette)

    merged: dict[str, tuple[float, np.ndarray]] = {}
    for colour_name, rgb, count in zip(names, palette, counts, strict=True):
        weight, total = merged.get(colour_name, (0.0, np.zeros(3)))
        merged[colour_name] = (weight + count, total + rgb * count)
    n_pixels = float(counts.sum())
    colours = [
        NamedColour(
            name=colour_name,
            rgb=tuple(int(round(v)) for v in total / weight),  # type: ignore[arg-type]
            share=round(float(weight) / n_pixels, 4),
        )
        for colour_name, (weight, total) in merged.items()
    ]
    colours.sort(key=lambda c: (-c.share, c.name))
    kept = [c for c in colours if c.share >= MIN_COLOUR_SHARE][:MAX_COLOURS]
    return kept or colours[:1]


# ---------------------------------------------------------------- caption


def _region(centre: tuple[float, float]) -> str:
    x, y = centre
    vertical = "upper" if y < 0.42 else "lower" if y > 0.58 else ""
    horizontal = "left" if x < 0.42 else "right" if x > 0.58 else ""
    if vertical and horizontal:
        return f"the {vertical} {horizontal}"
    if vertical:
        return f"the {vertical} part"
    if horizontal:
        return f"the {horizontal} side"
    return "the centre"


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def caption(p: Perception, frames: int = 1) -> str:
    """A short description such as "A dark, cool image dominated by deep blue and grey, with
    fine detail in the lower left." Built only from the measured features."""
    looks: list[str] = []
    if p.brightness < 0.2:
        looks.append("very dark")
    elif p.brightness < 0.38:
        looks.append("dark")
    elif p.brightness > 0.8:
        looks.append("very bright")
    elif p.brightness > 0.62:
        looks.append("bright")
    if p.warmth < -0.5:
        looks.append("cold")
    elif p.warmth < -0.15:
        looks.append("cool")
    elif p.warmth > 0.15:
        looks.append("warm")
    if p.saturation < 0.06:
        looks.append("colourless")
    elif p.colourfulness > 0.55:
        looks.append("vivid")
    elif p.saturation < 0.15:
        looks.append("muted")
    if not looks:
        looks.append("softly lit")
    article = "An" if looks[0][0] in "aeiou" else "A"
    kind = "animation" if frames > 1 else "image"

    names: list[str] = []  # the largest colours that together cover most of the picture
    covered = 0.0
    for colour in p.dominant_colours[:3]:
        if covered >= 0.6:
            break
        names.append(colour.name)
        covered += colour.share
    colour_part = f" dominated by {_join(names)}" if names else ""

    if p.texture > 0.55 or p.edge_density > 0.45:
        detail = f"busy texture, densest in {_region(p.detail_centre)}"
    elif p.edge_density > 0.12:
        detail = f"fine detail in {_region(p.detail_centre)}"
    else:
        detail = "smooth, uncluttered shapes"
    sentences = [f"{article} {', '.join(looks)} {kind}{colour_part}, with {detail}."]

    if p.light_centre[1] < 0.4 and p.contrast > 0.12:
        sentences.append("The light sits high in the frame.")
    elif p.light_centre[1] > 0.6 and p.contrast > 0.12:
        sentences.append("The light sits low in the frame.")
    if p.symmetry > 0.85:
        sentences.append("It is almost symmetrical.")
    if p.motion > 0.02:
        sentences.append("It moves a lot." if p.motion > 0.1 else "It moves gently.")
    warm_share = sum(c.share for c in p.dominant_colours if c.name in WARM_NAMES)
    cool_share = sum(c.share for c in p.dominant_colours if c.name in COOL_NAMES)
    if warm_share > 0.2 and cool_share > 0.2:
        sentences.append("Warm and cool colours meet.")
    return " ".join(sentences)
