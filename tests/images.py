"""Builders of test images, as the bytes a user would upload.

Unusual-but-valid files (every PIL mode, EXIF rotation, animations, extreme shapes), broken
ones (empty, truncated, not an image, decompression bombs, too many bytes), and
``photo_like``: procedural pictures whose brightness, warmth, saturation, texture, symmetry and
light position can be dialled, for checking that features and mappings move the right way.
Other test suites import this module; keep every builder fast (milliseconds) and deterministic.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

# ---------------------------------------------------------------- helpers


def encode(im: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def _gradient_rgb(width: int = 64, height: int = 48) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, 1)
    rgb = np.stack([x, y, 255 - x], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, mode="RGB")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def crafted_png(width: int, height: int) -> bytes:
    """A tiny PNG whose (valid, CRC-checked) header declares width x height RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- unusual but valid


def rgb_png(width: int = 64, height: int = 48) -> bytes:
    return encode(_gradient_rgb(width, height))


def cmyk_jpeg() -> bytes:
    return encode(_gradient_rgb().convert("CMYK"), "JPEG", quality=90)


def grey16_png() -> bytes:
    """16-bit greyscale using only 1000..3000 of the 0..65535 range (a dim scientific image)."""
    a = np.linspace(1000, 3000, 64 * 48).reshape(48, 64).astype(np.uint16)
    return encode(Image.fromarray(a))


def float_tiff() -> bytes:
    """32-bit float TIFF with values far outside 0..1 (and one NaN)."""
    a = np.linspace(-50.0, 400.0, 32 * 24, dtype=np.float32).reshape(24, 32)
    a[0, 0] = np.nan
    return encode(Image.fromarray(a), "TIFF")


def palette_png() -> bytes:
    """P mode with a transparent index: left half opaque red, right half transparent."""
    im = Image.new("P", (40, 20), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    im.paste(0, (20, 0, 40, 20))
    return encode(im, transparency=0)


def rgba_png() -> bytes:
    """Opaque blue on the left, fully transparent (black) on the right."""
    a = np.zeros((20, 40, 4), dtype=np.uint8)
    a[:, :20] = (0, 0, 255, 255)
    a[:, 20:] = (0, 0, 0, 0)
    return encode(Image.fromarray(a, mode="RGBA"))


def la_png() -> bytes:
    a = np.zeros((20, 40, 2), dtype=np.uint8)
    a[:, :20] = (30, 255)
    a[:, 20:] = (0, 0)
    return encode(Image.fromarray(a, mode="LA"))


def mode1_png() -> bytes:
    im = Image.new("1", (32, 32), 0)
    im.paste(1, (0, 0, 16, 32))
    return encode(im)


def exif_rotated_jpeg(width: int = 40, height: int = 20) -> bytes:
    """A width x height JPEG tagged with EXIF orientation 6 (rotate 90 degrees clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(_gradient_rgb(width, height), "JPEG", exif=exif.tobytes())


def tiny_1x1() -> bytes:
    return encode(Image.new("RGB", (1, 1), (200, 30, 30)))


def wide_8000x20() -> bytes:
    return encode(_gradient_rgb(8000, 20))


def animated_gif(frames: int = 8, still: bool = False) -> bytes:
    """A white square moving across a dark background (or standing still)."""
    images = []
    for i in range(frames):
        im = Image.new("RGB", (48, 48), (20, 20, 60))
        x = 4 + (0 if still else i * 4)
        im.paste((250, 250, 250), (x, 16, x + 12, 28))
        images.append(im)
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=80, loop=0)
    return buf.getvalue()


def animated_webp(frames: int = 6) -> bytes:
    images = []
    for i in range(frames):
        im = Image.new("RGB", (48, 48), (10, 40, 10))
        im.paste((250, 220, 0), (4 + i * 5, 10, 16 + i * 5, 22))
        images.append(im)
    buf = io.BytesIO()
    images[0].save(buf, "WEBP", save_all=True, append_images=images[1:], duration=80, lossless=True)
    return buf.getvalue()


def tiff() -> bytes:
    return encode(_gradient_rgb(), "TIFF")


def bmp() -> bytes:
    return encode(_gradient_rgb(), "BMP")


def webp() -> bytes:
    return encode(_gradient_rgb(), "WEBP", quality=80)


def jpeg() -> bytes:
    return encode(_gradient_rgb(), "JPEG", quality=90)


def gif() -> bytes:
    return encode(_gradient_rgb(), "GIF")


def ico() -> bytes:
    """A format PIL reads but Pictune does not accept."""
    return encode(_gradient_rgb(32, 32), "ICO")


# ---------------------------------------------------------------- broken


def empty() -> bytes:
    return b""


def truncated_png() -> bytes:
    data = encode(photo_like_image(1, size=(96, 64)))
    return data[: len(data) // 2]


def truncated_jpeg() -> bytes:
    data = encode(photo_like_image(2, size=(96, 64)), "JPEG", quality=90)
    return data[: len(data) // 2]


def png_signature_then_garbage() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def not_an_image() -> bytes:
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def html_page() -> bytes:
    """What Slack answers for url_private without a token."""
    return b"<!DOCTYPE html><html><head><title>Sign in | Slack</title></head><body></body></html>"


def decompression_bomb() -> bytes:
    """About 100 bytes declaring 100000 x 100000 pixels (beyond even PIL's own hard limit)."""
    return crafted_png(100_000, 100_000)


def many_pixels() -> bytes:
    """96 megapixels declared: above Pictune's 40 MP limit and PIL's warning threshold."""
    return crafted_png(12_000, 8_000)


def too_large(n_bytes: int = 20 * 1024 * 1024 + 1) -> bytes:
    """More bytes than the default upload limit, starting like a PNG."""
    head = rgb_png(8, 8)
    return head + b"\x00" * max(0, n_bytes - len(head))


# ---------------------------------------------------------------- procedural "photos"


def _smooth_noise(rng: np.random.Generator, h: int, w: int, waves: int = 4) -> np.ndarray:
    """Sum of a few random low-frequency sinusoids, scaled to -1..1."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((h, w), dtype=np.float32)
    for _ in range(waves):
        fx, fy = rng.uniform(0.5, 2.5, size=2) * 2 * np.pi
        phase = rng.uniform(0, 2 * np.pi)
        out += np.sin(fx * xx / w + fy * yy / h + phase)
    return out / waves


def photo_like_image(
    seed: int = 0,
    *,
    brightness: float = 0.5,
    warmth: float = 0.0,
    saturation: float = 0.5,
    texture: float = 0.2,
    symmetric: bool = False,
    light_y: float | None = None,
    size: tuple[int, int] = (160, 120),
) -> Image.Image:
    """A procedural picture with controllable looks (all knobs 0..1, warmth -1..1).

    brightness sets the mean value; warmth moves the main hue from blue (-1) through green (0)
    to orange (+1); saturation scales colour intensity; texture adds fine noise (edges);
    symmetric mirrors the left half; light_y (0 top .. 1 bottom) puts a band of light there.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    base = _smooth_noise(rng, height, width)
    hue_wobble = _smooth_noise(rng, height, width)
    fine = rng.uniform(-1.0, 1.0, size=(height, width)).astype(np.float32)

    # Light falls from one side (photos rarely mirror themselves); a symmetric picture gets
    # the same amount of variation, mirrored, with the same mean.
    across = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    side = 0.3 * (1.0 - 2.0 * np.abs(across)) if symmetric else 0.3 * across
    value = brightness + 0.18 * base + side + 0.45 * texture * fine
    if light_y is not None:
        rows = (np.arange(height, dtype=np.float32) + 0.5) / height
        band = np.exp(-(((rows - light_y) / 0.15) ** 2))[:, None]
        value = value - 0.25 + 0.5 * band
    hue_degrees = 210.0 - 90.0 * (warmth + 1.0) + 12.0 * hue_wobble
    sat = saturation * (0.85 + 0.15 * base)

    hsv = np.stack(
        [
            (hue_degrees % 360.0) / 360.0 * 255.0,
            np.clip(sat, 0.0, 1.0) * 255.0,
            np.clip(value, 0.0, 1.0) * 255.0,
        ],
        axis=-1,
    )
    if symmetric:  # mirror the left half (the side light is symmetric already)
        half = width // 2
        hsv[:, width - half :] = hsv[:, :half][:, ::-1]
    im = Image.fromarray(np.round(hsv).astype(np.uint8), mode="HSV")
    return im.convert("RGB")


def photo_like(seed: int = 0, *, fmt: str = "PNG", **looks: object) -> bytes:
    """``photo_like_image`` encoded as an upload (PNG unless fmt says otherwise)."""
    return encode(photo_like_image(seed, **looks), fmt)  # type: ignore[arg-type]


# Name -> builder, for parametrised tests elsewhere.
UNUSUAL = {
    "rgb_png": rgb_png,
    "cmyk_jpeg": cmyk_jpeg,
    "grey16_png": grey16_png,
    "float_tiff": float_tiff,
    "palette_png": palette_png,
    "rgba_png": rgba_png,
    "la_png": la_png,
    "mode1_png": mode1_png,
    "exif_rotated_jpeg": exif_rotated_jpeg,
    "tiny_1x1": tiny_1x1,
    "wide_8000x20": wide_8000x20,
    "animated_gif": animated_gif,
    "animated_webp": animated_webp,
    "tiff": tiff,
    "bmp": bmp,
    "webp": webp,
    "jpeg": jpeg,
    "gif": gif,
}
BROKEN = {
    "empty": empty,
    "truncated_png": truncated_png,
    "truncated_jpeg": truncated_jpeg,
    "png_signature_then_garbage": png_signature_then_garbage,
    "not_an_image": not_an_image,
    "html_page": html_page,
    "ico": ico,
    "decompression_bomb": decompression_bomb,
    "many_pixels": many_pixels,
    "too_large": too_large,
}
