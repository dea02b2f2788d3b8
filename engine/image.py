"""Safe decoding of untrusted uploads into one RGB picture.

The order of checks matters: size in bytes, then the magic bytes, then a header-only open
(which gives the dimensions without decoding pixels), then the pixel limit, and only then the
full decode. So a 50 kB file that declares 100000 x 100000 pixels is refused before anything
big is allocated.

Every PIL mode ends as RGB: transparency is composited on white, 16-bit and float images are
stretched over their actual range, bilevel images go through greyscale. EXIF orientation is
applied. Of an animation only the first frame is kept, but the amount of movement between
frames is measured (``ImageInfo.motion``) because it feeds the tempo.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import (
    DEFAULT_MAX_IMAGE_BYTES,
    IMAGE_HELP,
    CorruptImage,
    ImageTooLarge,
    ImageTooManyPixels,
    UnsupportedImage,
    too_large_message,
    unsupported_message,
)
from engine.types import ImageInfo

ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP")

# Canonical MIME type of each format, and every MIME type (aliases included) we accept.
MIME_TYPES: dict[str, str] = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
}
ALLOWED_MIME_TYPES: frozenset[str] = frozenset(
    [
        *MIME_TYPES.values(),
        "image/jpg",
        "image/pjpeg",
        "image/x-ms-bmp",
        "image/x-bmp",
        "image/x-png",
    ]
)

BACKGROUND = (255, 255, 255)  # what transparent pixels become

# Motion is measured on at most this many frames, each shrunk to this side.
MOTION_FRAMES = 16
MOTION_SIDE = 64
# ... and never by decoding more than this many pixels in all (a GIF decodes sequentially).
MOTION_PIXEL_BUDGET = 200_000_000

# Valid sizes of a BMP's DIB header (BITMAPCOREHEADER .. BITMAPV5HEADER).
_BMP_DIB_SIZES = (12, 16, 40, 52, 56, 64, 108, 124)

# What PIL raises on broken data, besides its own UnidentifiedImageError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError)


@dataclass
class DecodedImage:
    image: Image.Image  # mode RGB
    info: ImageInfo


def sniff_image_format(head: bytes) -> str | None:
    """The format named by the first bytes of a file (pass 32 or more), or None.

    Bots call this on the first bytes of a download to turn away, say, an HTML login page
    before decoding anything.
    """
    if not isinstance(head, (bytes, bytearray, memoryview)):
        return None
    head = bytes(head[:32])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:2] == b"BM":
        # "BM" alone is too weak (plain text can start with it): check the DIB header size.
        if len(head) < 18:
            return "BMP" if len(head) <= 2 else None
        if int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
            return "BMP"
    return None


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    max_pixels: int = 40_000_000,
    max_side: int | None = None,
) -> DecodedImage:
    """Check and decode an uploaded file into an RGB image.

    ``max_side``, when given, shrinks the result so that its longer side is at most that many
    pixels (JPEGs are then decoded at reduced scale, which is much faster); ``info`` always
    describes the original. Raises ``UnsupportedImage``, ``ImageTooLarge``,
    ``ImageTooManyPixels`` or ``CorruptImage``.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UnsupportedImage(unsupported_message(max_bytes), detail="not bytes")
    data = bytes(data)
    if not data:
        raise UnsupportedImage(
            f"That file is empty: send an image ({IMAGE_HELP}).", detail="empty file"
        )
    # PIL warns (on stderr, past our logging) about things we handle anyway, such as a
    # corrupt EXIF block: a broken upload gets our one-line answer and nothing else.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _decode(data, max_bytes=max_bytes, max_pixels=max_pixels, max_side=max_side)


def _decode(data: bytes, *, max_bytes: int, max_pixels: int, max_side: int | None) -> DecodedImage:
    if len(data) > max_bytes:
        raise ImageTooLarge(
            too_large_message(max_bytes),
            detail=f"{len(data)} bytes > {max_bytes}",
        )
    fmt = sniff_image_format(data[:32])
    if fmt is None:
        raise UnsupportedImage(unsupported_message(max_bytes), detail="unknown magic bytes")

    im = _open_header(data, fmt, max_pixels)
    width, height = im.size
    original_mode = im.mode
    frames = _frame_count(im)
    if _swaps_sides(im):
        width, height = height, width  # describe the picture as it is shown
    if max_side is not None and fmt == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale, never below max_side.
        scale = max_side / max(im.size)
        if scale < 1:
            im.draft(None, (math.ceil(im.width * scale), math.ceil(im.height * scale)))

    try:
        im.seek(0)
        im.load()
        first = _apply_orientation(im)
        rgb = to_rgb(first)
    except (UnidentifiedImageError, Image.DecompressionBombError, *_DECODE_ERRORS) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            raise _too_many_pixels(max_pixels, str(exc)) from exc
        raise CorruptImage(detail=f"{fmt}: {type(exc).__name__}: {exc}") from exc
    if max_side is not None and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)

    motion = 0.0
    if frames > 1 and fmt in ("GIF", "WEBP", "PNG"):
        motion = _measure_motion(im, frames, max_pixels)

    info = ImageInfo(
        width=width,
        height=height,
        format=fmt,
        mode=original_mode,
        n_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        frames=frames,
        motion=motion,
    )
    return DecodedImage(image=rgb, info=info)


def _open_header(data: bytes, fmt: str, max_pixels: int) -> Image.Image:
    """Open without decoding pixels and enforce the pixel limit."""
    try:
        # PIL warns above its own global limit and raises above twice that. We check our own
        # limit right below, so its warning is silenced for this call only.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(max_pixels, str(exc)) from exc
    except UnidentifiedImageError as exc:
        # The magic bytes said fmt, but the header does not parse: a broken file.
        raise CorruptImage(detail=f"{fmt} header does not parse: {exc}") from exc
    except _DECODE_ERRORS as exc:
        raise CorruptImage(detail=f"{fmt} header: {type(exc).__name__}: {exc}") from exc
    width, height = im.size
    if width <= 0 or height <= 0:
        raise CorruptImage(detail=f"{fmt} declares {width}x{height}")
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels, f"{width}x{height} > {max_pixels}")
    return im


def _frame_count(im: Image.Image) -> int:
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except _DECODE_ERRORS:
        return 1  # counting frames walks the file; a broken tail still leaves frame one


def _apply_orientation(im: Image.Image) -> Image.Image:
    """Rotate or flip as the EXIF orientation tag says; a broken EXIF block is ignored."""
    try:
        return ImageOps.exif_transpose(im)
    except _DECODE_ERRORS:
        return im


def _swaps_sides(im: Image.Image) -> bool:
    """Whether the EXIF orientation turns the picture by 90 degrees (tags 5 to 8)."""
    try:
        return im.getexif().get(0x0112) in (5, 6, 7, 8)
    except _DECODE_ERRORS:
        return False


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB, compositing transparency on white."""
    mode = im.mode
    if mode == "RGB":
        return im.copy()
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _stretch_to_l(im).convert("RGB")
    if mode == "1":
        return im.convert("L").convert("RGB")
    if mode == "P":
        if "transparency" in im.info:
            return _composite(im.convert("RGBA"))
        return im.convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _composite(im.convert("RGBA"))
    try:
        return im.convert("RGB")  # CMYK, YCbCr, L, RGBX, HSV ...
    except ValueError:
        # No direct conversion (LAB, for one): keep the first channel as lightness.
        return im.getchannel(0).convert("L").convert("RGB")


def _composite(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGB", rgba.size, BACKGROUND)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _stretch_to_l(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float images: map the actual min..max onto 0..255."""
    if im.mode.startswith("I;16"):
        im = im.convert("I")
    a = np.asarray(im, dtype=np.float64)
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        # A flat image: place it on the scale its type suggests.
        return Image.new(
            "L", im.size, int(round(255 * np.clip(lo if im.mode == "F" else lo / 65535.0, 0, 1)))
        )
    a = (a - lo) / (hi - lo)
    return Image.fromarray(np.round(a * 255.0).astype(np.uint8), mode="L")


def _measure_motion(im: Image.Image, frames: int, max_pixels: int) -> float:
    """Mean absolute difference (0..1) between consecutive sampled frames, on small copies."""
    width, height = im.size
    scan = min(frames, max(2, MOTION_PIXEL_BUDGET // max(1, width * height)), 256)
    indices = sorted({round(i) for i in np.linspace(0, scan - 1, num=min(scan, MOTION_FRAMES))})
    small: list[np.ndarray] = []
    try:
        for index in indices:
            im.seek(index)
            if im.size[0] * im.size[1] > max_pixels:
                break  # a frame may not grow the canvas past the limit
            frame = to_rgb(im).convert("L")
            frame.thumbnail((MOTION_SIDE, MOTION_SIDE), Image.Resampling.BILINEAR)
            small.append(np.asarray(frame, dtype=np.float32) / 255.0)
    except _DECODE_ERRORS:
        pass  # a broken later frame: measure what was read
    diffs = [
        float(np.mean(np.abs(a - b)))
        for a, b in zip(small, small[1:], strict=False)
        if a.shape == b.shape
    ]
    return float(np.clip(np.mean(diffs), 0.0, 1.0)) if diffs else 0.0


def _too_many_pixels(max_pixels: int, detail: str) -> ImageTooManyPixels:
    return ImageTooManyPixels(
        f"That image has too many pixels: send one under {max_pixels / 1e6:g} megapixels.",
        detail=detail,
    )
