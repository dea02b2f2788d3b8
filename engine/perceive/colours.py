"""Human names for colours: the nearest entry of a small palette, measured in CIELAB.

CIELAB distance follows perceived difference far better than RGB distance, so "the closest
named colour" is what a person would call it. The palette is kept short and plain (two words
at most) because the names end up in captions and music descriptions.
"""

from __future__ import annotations

import numpy as np

# name -> sRGB. Order does not matter; ties go to the first.
PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (12, 12, 12),
    "charcoal": (54, 57, 62),
    "dark grey": (90, 90, 90),
    "grey": (135, 135, 135),
    "silver": (185, 185, 190),
    "light grey": (215, 215, 215),
    "white": (248, 248, 248),
    "cream": (245, 236, 205),
    "beige": (215, 195, 160),
    "tan": (190, 150, 105),
    "brown": (125, 80, 45),
    "dark brown": (70, 45, 25),
    "maroon": (115, 20, 30),
    "crimson": (190, 20, 50),
    "red": (220, 35, 35),
    "rust": (175, 75, 30),
    "salmon": (240, 130, 110),
    "pink": (245, 165, 190),
    "hot pink": (230, 60, 150),
    "orange": (245, 130, 20),
    "peach": (250, 195, 150),
    "amber": (240, 170, 30),
    "gold": (215, 175, 50),
    "yellow": (245, 225, 40),
    "pale yellow": (250, 240, 150),
    "olive": (120, 120, 40),
    "lime green": (160, 215, 50),
    "green": (50, 160, 60),
    "forest green": (35, 90, 40),
    "dark green": (20, 55, 30),
    "sage": (150, 175, 135),
    "mint": (170, 230, 195),
    "teal": (0, 125, 125),
    "turquoise": (60, 200, 190),
    "cyan": (40, 210, 235),
    "sky blue": (125, 185, 235),
    "pale blue": (190, 215, 240),
    "steel blue": (80, 120, 160),
    "blue": (35, 80, 210),
    "deep blue": (20, 40, 120),
    "navy": (15, 20, 70),
    "indigo": (65, 30, 125),
    "violet": (140, 80, 200),
    "purple": (110, 40, 140),
    "dark purple": (55, 25, 70),
    "lavender": (190, 170, 225),
    "magenta": (210, 40, 200),
    "plum": (100, 40, 80),
}

# Hue families, for grouping and for the warmth of a named colour in words.
WARM_NAMES = frozenset(
    {
        "maroon",
        "crimson",
        "red",
        "rust",
        "salmon",
        "orange",
        "peach",
        "amber",
        "gold",
        "yellow",
        "pale yellow",
        "brown",
        "dark brown",
        "tan",
        "beige",
        "cream",
        "pink",
        "hot pink",
    }
)
COOL_NAMES = frozenset(
    {
        "teal",
        "turquoise",
        "cyan",
        "sky blue",
        "pale blue",
        "steel blue",
        "blue",
        "deep blue",
        "navy",
        "indigo",
        "violet",
        "lavender",
        "mint",
        "dark purple",
        "purple",
    }
)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (..., 3) in 0..255 -> CIELAB (D65), same leading shape."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = linear @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


_NAMES = tuple(PALETTE)
_PALETTE_LAB = srgb_to_lab(np.array([PALETTE[n] for n in _NAMES]))


def name_colours(rgb: np.ndarray) -> list[str]:
    """Names of many colours at once: rgb is (n, 3) in 0..255."""
    lab = srgb_to_lab(np.asarray(rgb, dtype=np.float64).reshape(-1, 3))
    distances = np.linalg.norm(lab[:, None, :] - _PALETTE_LAB[None, :, :], axis=-1)
    return [_NAMES[i] for i in np.argmin(distances, axis=1)]


def name_colour(rgb: tuple[int, int, int]) -> str:
    """The palette name closest to one sRGB colour, e.g. (20, 40, 120) -> "deep blue"."""
    return name_colours(np.array([rgb]))[0]
