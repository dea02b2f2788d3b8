"""A small picture of the source image, shown beside the music (the result and its
community copy): JPEG, its longer side at most THUMBNAIL_SIDE pixels.

Decoded with the same limits as any upload (engine/image.py): the stored source image
passed intake, but the limits are the one rule, and a thumbnail never needs more."""

from __future__ import annotations

import io

from engine.config import Settings
from engine.image import decode_image

THUMBNAIL_SIDE = 320
THUMBNAIL_NAME = "picture.jpg"


def thumbnail_jpeg(data: bytes, settings: Settings, side: int = THUMBNAIL_SIDE) -> bytes:
    """The image as a JPEG thumbnail (first frame of an animation); ImageError if it
    cannot be decoded."""
    decoded = decode_image(
        data,
        max_bytes=settings.max_image_bytes,
        max_pixels=settings.max_image_pixels,
        max_side=side,
    )
    picture = decoded.image.convert("RGB")
    picture.thumbnail((side, side))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=82, optimize=True)
    return out.getvalue()
