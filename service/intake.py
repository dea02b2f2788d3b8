"""What every front door checks before a piece is asked for, and the sentences it answers.

The CLI, the chat bots and the job service all call these, so the same bad request gets the
same answer wherever it comes in: an upload's metadata before downloading it, a capped
download, the bytes sniffed and decoded with the configured limits, the hint, the mode, the
duration, the seed and the refinement rounds. Limits come from the settings; the image
sentences from engine/errors.py; the hint rule from engine/bridge/hints.py and the options (style, tempo, key or
mode, instruments) from engine/bridge/options.py (re-exported).
Nothing here knows a chat platform: whoever calls shows ``user_message`` as it is.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import httpx

from engine.bridge.hints import MAX_HINT_CHARS, check_hint
from engine.bridge.options import read_options
from engine.config import MAX_REFINE_ROUNDS, Settings
from engine.errors import (
    IMAGE_HELP,
    CorruptImage,
    FileAccessDenied,
    ImageError,
    ImageTooLarge,
    InvalidOption,
    LoginPageInsteadOfImage,
    UnsupportedImage,
    mode_unavailable_message,
    too_large_message,
    unsupported_message,
)
from engine.image import ALLOWED_MIME_TYPES, DecodedImage, decode_image, sniff_image_format
from engine.types import MODES

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "IMAGE_EXTENSIONS",
    "MAX_HINT_CHARS",
    "MAX_SEED",
    "check_downloaded",
    "check_duration",
    "check_hint",
    "check_mode",
    "check_refine_rounds",
    "check_seed",
    "check_upload",
    "download_capped",
    "duration_message",
    "duration_number",
    "duration_range",
    "extended_duration",
    "finite_number",
    "fit_duration",
    "mode_name",
    "read_image",
    "read_options",
    "whole_number",
]

# What a file may be called when the platform gives no content type (the bytes decide).
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jfif", ".webp", ".gif", ".tif", ".tiff", ".bmp"}
)
DOWNLOAD_TIMEOUT = 20.0  # seconds, for the whole download (read at call time: tests shorten it)
MAX_SEED = 2**31 - 1  # the pipeline reduces seeds modulo 2**31: larger ones would repeat

EMPTY_MESSAGE = f"That file is empty: send an image ({IMAGE_HELP})."  # as engine/image.py says
DURATION_MESSAGE = "The duration must be a positive number of seconds, e.g. 30."
SEED_MESSAGE = f"The seed must be a whole number from 0 to {MAX_SEED}."
ROUNDS_MESSAGE = f"Refinement rounds must be a whole number from 0 to {MAX_REFINE_ROUNDS}."


def unknown_mode_message(mode: str) -> str:
    """The one "no such mode" sentence, naming the modes there are."""
    return f"Unknown mode '{mode}': use {', '.join(MODES[:-1])} or {MODES[-1]}."


# ---------------------------------------------------------------------------- the image


def check_upload(
    name: str | None, size: int | None, content_type: str | None, settings: Settings
) -> None:
    """Refuse what is surely not an acceptable image from its metadata alone, before a byte
    is downloaded. Missing metadata passes: the bytes decide later."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind:
        if kind not in ALLOWED_MIME_TYPES:
            raise UnsupportedImage(unsupported_message(settings.max_image_bytes))
    elif Path(name or "").suffix.lower() not in IMAGE_EXTENSIONS:
        raise UnsupportedImage(unsupported_message(settings.max_image_bytes))
    if size is not None and size > settings.max_image_bytes:
        raise ImageTooLarge(too_large_message(settings.max_image_bytes))
    if size == 0:
        raise CorruptImage(EMPTY_MESSAGE)


async def download_capped(
    client: httpx.AsyncClient,
    url: str,
    settings: Settings,
    *,
    headers: dict[str, str] | None = None,
) -> bytes:
    """Fetch an upload streamed with a size cap (a lying Content-Length does not help) and an
    overall timeout, then ``check_downloaded``. Every failure is an ImageError to show."""
    cap = settings.max_image_bytes
    chunks: list[bytes] = []
    try:
        async with asyncio.timeout(DOWNLOAD_TIMEOUT):
            async with client.stream("GET", url, headers=headers) as response:
                _check_status(response.status_code)
                length = response.headers.get("content-length")
                if length and length.isdigit() and int(length) > cap:
                    raise ImageTooLarge(too_large_message(cap))
                received = 0
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > cap:
                        raise ImageTooLarge(too_large_message(cap))
                    chunks.append(chunk)
    except TimeoutError:
        raise ImageError("Downloading that image took too long: try a smaller one.") from None
    except httpx.HTTPError as exc:
        raise ImageError(
            "I could not download that file: try again in a moment.", detail=repr(exc)
        ) from None
    data = b"".join(chunks)
    check_downloaded(data, settings)
    return data


def _check_status(status: int) -> None:
    if status in (401, 403):
        raise FileAccessDenied(detail=f"download answered {status}")
    if status in (404, 410):
        raise ImageError("That file is gone: attach the image again.")
    if status >= 400:
        raise ImageError("I could not download that file: try again in a moment.")


def check_downloaded(data: bytes, settings: Settings) -> None:
    """Sniff downloaded bytes, cheaply, before decoding: an HTML page (a sign-in page served
    instead of the file) says so, as does an empty file or another kind of file."""
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:256]:
        raise LoginPageInsteadOfImage(detail="the download was an HTML page")
    if not data:
        raise CorruptImage(EMPTY_MESSAGE)
    if sniff_image_format(data) is None:
        raise UnsupportedImage(unsupported_message(settings.max_image_bytes))


def read_image(data: bytes, settings: Settings) -> DecodedImage:
    """Sniff and fully decode the bytes with the configured limits, so a broken file is
    answered before anything is queued or any model loaded (blocking: run it in a thread
    from async code)."""
    return decode_image(
        data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels
    )


# ---------------------------------------------------------------------------- the options


def check_mode(mode: str | None, settings: Settings, *, default: str | None = None) -> str:
    """The mode asked for (else ``default``, else the configured one), as ``mode_name``;
    a mode this configuration cannot run (no MusicGen for audio) is refused here, before
    anything is queued, in the words the pipeline would use."""
    name = mode_name(mode or default or settings.mode)
    available = settings.available_modes()
    if name not in available:
        raise InvalidOption(mode_unavailable_message(name, available))
    return name


def mode_name(mode: Any) -> str:
    """A mode's name, lower-cased; an unknown one is refused here rather than by a worker."""
    name = mode.strip().lower() if isinstance(mode, str) else repr(mode)
    if name not in MODES:
        raise InvalidOption(unknown_mode_message(name))
    return name


def duration_number(value: Any) -> float:
    """A duration as a finite positive number of seconds; NaN, the infinities, zero,
    negatives, booleans and text are refused with one sentence."""
    seconds = finite_number(value, DURATION_MESSAGE)
    if seconds <= 0:
        raise InvalidOption(DURATION_MESSAGE)
    return seconds


def duration_range(settings: Settings, longest: float | None = None) -> tuple[float, float]:
    """The shortest and longest piece one may ask for: the deployment's range, its top
    lowered by a workspace's own longest piece (``longest``), never below the shortest."""
    low, high = settings.min_duration, settings.max_duration
    if longest is not None:
        high = max(low, min(high, longest))
    return low, high


def duration_message(low: float, high: float) -> str:
    """The sentence for a duration outside the range, with the range's numbers."""
    return f"The duration must be between {low:g} and {high:g} seconds."


def check_duration(value: Any, settings: Settings, *, longest: float | None = None) -> float:
    """The seconds to compose: None is the configured default (within a workspace's
    ``longest``); a number outside ``duration_range`` is refused with ``duration_message``,
    the same from the CLI, both bots and the job service."""
    low, high = duration_range(settings, longest)
    if value is None:
        return min(settings.duration, high)
    seconds = duration_number(value)
    if not low <= seconds <= high:
        raise InvalidOption(duration_message(low, high))
    return seconds


def fit_duration(
    seconds: float | None, settings: Settings, *, longest: float | None = None
) -> float:
    """A stored piece's duration fitted into today's range (a rerun: nobody typed it, and
    the settings may have changed since it was made)."""
    low, high = duration_range(settings, longest)
    return min(max(settings.duration if seconds is None else float(seconds), low), high)


def extended_duration(seconds: float, settings: Settings, *, longest: float | None = None) -> float:
    """An extension's length: the piece's own ``seconds`` and the default length more, up to
    the top of the range; a piece already that long cannot go on (InvalidOption says so)."""
    _, high = duration_range(settings, longest)
    if seconds >= high:
        raise InvalidOption(
            f"That piece is already {seconds:g} seconds long, the longest a piece may be "
            "here: it cannot go on."
        )
    return min(seconds + settings.duration, high)


def check_seed(value: Any) -> int | None:
    """None (derived from the image) or a whole number the pipeline keeps as given."""
    return whole_number(value, 0, MAX_SEED, SEED_MESSAGE)


def check_refine_rounds(value: Any) -> int | None:
    """None (the configured default) or a whole number of rounds the pipeline allows."""
    return whole_number(value, 0, MAX_REFINE_ROUNDS, ROUNDS_MESSAGE)


def finite_number(value: Any, message: str) -> float:
    """A number from a person (or an adapter passing one on) as a finite float; NaN, the
    infinities, booleans and text are refused here, not half-way through a worker."""
    if isinstance(value, bool):
        raise InvalidOption(message)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidOption(message) from exc
    if not math.isfinite(number):
        raise InvalidOption(message)
    return number


def whole_number(value: Any, low: int, high: int, message: str) -> int | None:
    """None stays None; anything else must be a whole number in [low, high]."""
    if value is None:
        return None
    number = finite_number(value, message)
    if number != int(number) or not low <= number <= high:
        raise InvalidOption(message)
    return int(number)
