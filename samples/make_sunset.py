"""Draws samples/sunset.png: a sun setting over the sea, made from numbers alone (CC0).

Run from the repository root: python samples/make_sunset.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 480, 320
HORIZON = 0.62  # fraction of the height


def sunset() -> Image.Image:
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    u, v = x / WIDTH, y / HEIGHT
    # Sky: deep violet at the top to orange and gold at the horizon.
    t = np.clip(v / HORIZON, 0, 1)[..., None]
    top, mid, low = np.array([60, 30, 90]), np.array([220, 90, 70]), np.array([255, 190, 90])
    sky = np.where(t < 0.6, top + (mid - top) * (t / 0.6), mid + (low - mid) * ((t - 0.6) / 0.4))
    # The sun and its glow, half sunk.
    sx, sy, radius = 0.62, HORIZON - 0.02, 0.09
    d = np.hypot((u - sx) * WIDTH / HEIGHT, v - sy)
    glow = np.exp(-((d / 0.25) ** 2))[..., None]
    sky = sky + glow * (np.array([255, 220, 150]) - sky) * 0.6
    sky = np.where((d < radius)[..., None], np.array([255, 240, 200]), sky)
    # Sea: darker, with a shimmering path of light under the sun.
    depth = np.clip((v - HORIZON) / (1 - HORIZON), 0, 1)[..., None]
    sea = np.array([70, 40, 80]) * (1 - depth) + np.array([25, 20, 50]) * depth
    ripples = 0.5 + 0.5 * np.sin(v * 260 + np.sin(u * 40) * 2)
    path = np.exp(-(((u - sx) / (0.04 + 0.2 * depth[..., 0])) ** 2)) * ripples
    sea = sea + path[..., None] * (np.array([255, 170, 90]) - sea) * 0.7
    image = np.where((v < HORIZON)[..., None], sky, sea)
    # A dark headland on the left.
    hill = HORIZON - 0.12 * np.exp(-(((u - 0.08) / 0.18) ** 2))
    image = np.where(
        ((v > hill) & (v < HORIZON + 0.01) & (u < 0.35))[..., None], np.array([35, 20, 45]), image
    )
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


if __name__ == "__main__":
    sunset().save(Path(__file__).with_name("sunset.png"), optimize=True)
