"""Typed errors. Each carries a short message meant for the person who asked.

The bots show ``user_message`` as it is; logs get the exception itself. Never put paths,
tokens or tracebacks into a user message.
"""

from __future__ import annotations

import errno


class PictuneError(Exception):
    """Base class. ``user_message`` is one line, says what was wrong and what to do next."""

    user_message: str = "Something went wrong while composing. Please try again."
    exit_code: int = 1

    def __init__(self, user_message: str | None = None, *, detail: str | None = None) -> None:
        if user_message is not None:
            self.user_message = user_message
        self.detail = detail
        super().__init__(detail or self.user_message)


class InputError(PictuneError):
    """The request itself is wrong (bad file, bad option). CLI exit code 2."""

    exit_code = 2


IMAGE_HELP = "PNG, JPEG, WebP, GIF, TIFF or BMP"
# The default of the max_image_bytes setting (engine/config.py): only the class defaults below
# use it; whoever knows the settings builds the sentences from the real limit.
DEFAULT_MAX_IMAGE_BYTES = 20 * 1024 * 1024


def megabytes(n: int) -> str:
    """A byte count as the user messages give it: 20971520 -> "20", 1.5 MiB -> "1.5"."""
    return f"{n / (1024 * 1024):g}"


def too_large_message(max_bytes: int) -> str:
    """The one "too large" sentence, from the limit in force (``settings.max_image_bytes``)."""
    return f"That image is too large: send one up to {megabytes(max_bytes)} MB."


def unsupported_message(max_bytes: int) -> str:
    """The one "not an image" sentence, from the limit in force."""
    return f"That file is not an image I can read: {IMAGE_HELP} up to {megabytes(max_bytes)} MB."


class ImageError(InputError):
    user_message = unsupported_message(DEFAULT_MAX_IMAGE_BYTES)


class ImageTooLarge(ImageError):
    user_message = too_large_message(DEFAULT_MAX_IMAGE_BYTES)


class ImageTooManyPixels(ImageError):
    user_message = "That image has too many pixels: send one under 40 megapixels."


class UnsupportedImage(ImageError):
    user_message = unsupported_message(DEFAULT_MAX_IMAGE_BYTES)


class CorruptImage(ImageError):
    user_message = "That image looks broken or truncated: please re-save it and try again."


class FileAccessDenied(ImageError):
    """The platform would not hand the upload over (401/403: not shared, no permission)."""

    user_message = (
        "I was not allowed to download that file: share it again, "
        "or ask an admin to check my permissions."
    )


class LoginPageInsteadOfImage(FileAccessDenied):
    """A download answered with a web page (a sign-in page) instead of the file: the bot
    lacks the permission to read files (on Slack: the files:read scope)."""

    user_message = (
        "I got a web page instead of the image: the file is not shared with me "
        "(the bot needs permission to read files)."
    )


class InvalidOption(InputError):
    user_message = "That option is not valid."


# What each mode needs beyond the embedded default, as the settings name it.
MODE_NEEDS = {
    "audio": ("a MusicGen model", "PICTUNE_MUSICGEN"),
    "hybrid": ("a MusicGen-melody model", "PICTUNE_MUSICGEN_MELODY"),
}


def mode_unavailable_message(mode: str, available: tuple[str, ...]) -> str:
    """The one "this Pictune cannot do that mode" sentence, naming what it can do."""
    what = MODE_NEEDS.get(mode, ("a model", ""))[0]
    return (
        f"The {mode} mode needs {what}, which this Pictune does not have: "
        f"use {' or '.join(available)}."
    )


class ConfigError(PictuneError):
    """The deployment is misconfigured (missing SoundFont, bad model reference)."""

    exit_code = 3
    user_message = "Pictune is not set up correctly here; the operators have been told."


class SoundFontMissing(ConfigError):
    pass


class ModelOutputError(PictuneError):
    """A model produced something unusable (no ABC, broken ABC) after all retries."""

    user_message = "The composer could not write valid music for this image. Please try again."


class ModelUnavailable(PictuneError):
    """A configured model server did not answer (after retries) or refused the request."""

    user_message = "The music model is not answering right now. Please try again in a minute."


class RenderError(PictuneError):
    user_message = "I composed the piece but could not render it. Please try again."


class NotFound(InputError):
    user_message = "I can't find that piece. Check the id (it looks like pt-7f3a2c)."


class Forbidden(InputError):
    user_message = "Only the person who made that piece (or an admin) can do that."


class Busy(PictuneError):
    user_message = "Pictune is busy right now: try again in a minute."


class LimitReached(PictuneError):
    user_message = (
        "You already have pieces being composed: wait for them to finish, then try again."
    )


class JobFailed(PictuneError):
    user_message = "Composing failed. Please try again."


class Cancelled(PictuneError):
    user_message = "That piece was cancelled."


# ---------------------------------------------------------------------- storage faults
# A failure of the machine, not of the request: the person is told what broke and that it
# is not their picture's fault. Not ConfigError subclasses: the CLI would call them a
# "configuration problem", which a full disk is not.


class StorageFault(PictuneError):
    """The data directory or the database cannot be used right now."""

    user_message = "Pictune's storage failed: ask the operator to check it, then try again."


class StorageFull(StorageFault):
    """ENOSPC from the artifact store, SQLITE_FULL from the database."""

    user_message = (
        "The server is out of disk space: ask the operator to free some, then try again "
        "(it was not your picture's fault)."
    )


class StorageReadOnly(StorageFault):
    """EROFS / EACCES on a write, or SQLite's "attempt to write a readonly database"."""

    user_message = (
        "The server's storage is read-only, so nothing can be saved: ask the operator to "
        "make the data folder writable, then try again."
    )


class DatabaseDamaged(StorageFault):
    """SQLite says "file is not a database" or "database disk image is malformed"."""

    exit_code = 3
    user_message = (
        "Pictune's history database is damaged: the operator must restore it from a backup "
        "(see docs/reliability.md)."
    )


class DatabaseUnavailable(StorageFault):
    """The database server does not answer (refused, reset, timed out)."""

    user_message = (
        "Pictune's history database is not answering: try again in a minute "
        "(the operator may need to start it)."
    )


class InternalError(JobFailed):
    """A bug of ours (an exception we did not expect); the log keeps the traceback."""

    user_message = (
        "Something broke on our side while composing (not your picture): "
        "the operators have the details; please try again."
    )


def os_fault(exc: OSError) -> StorageFault | None:
    """The typed error for a write that failed because of the machine; None for others."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(detail=f"{type(exc).__name__}: {exc}")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageReadOnly(detail=f"{type(exc).__name__}: {exc}")
    return None
