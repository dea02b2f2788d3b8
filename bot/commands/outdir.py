"""Output folders of the CLI (`compose --out`, `show --out`, `index import --out`): checked
before slow work starts, filled all at once or not at all.

Files are written into a hidden staging folder first (``.pictune-XXXXXXXX.part`` beside the
output folder), then moved into place with ``os.replace``: a failure or Ctrl-C half way leaves
no half-written set of files behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from engine.errors import InputError


def check_out_dir(out: Path, option: str = "--out") -> None:
    """Refuse a folder that cannot be made or written into, with words that say why."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{option} {out} is a file: give a folder (it is created if needed).")
    # The nearest folder that exists must let us create things in it.
    parent = out
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{option} {out} cannot be a folder: {parent} is a file.")
    # Ask the file system itself (permissions, read-only mounts, /proc ...): make and remove
    # an empty folder.
    probe = parent / f".pictune-probe-{secrets.token_hex(4)}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(
            f"I cannot write into {parent} ({reason}): choose another {option}."
        ) from None


def new_staging(folder: Path) -> Path:
    """A new, empty hidden folder inside ``folder`` (created with its parents)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # mkdir, not mkdtemp: this folder may become the output folder, with the umask's mode.
        staging = folder / f".pictune-{secrets.token_hex(4)}.part"
        staging.mkdir()
    except OSError as exc:
        raise cannot_write(folder, exc) from None
    return staging


def publish(staging: Path, names: list[str], out: Path) -> dict[str, Path]:
    """Move the staged files into ``out`` (renaming the staging folder when ``out`` does not
    exist yet); returns name -> path. The staging folder is gone afterwards."""
    try:
        if out.exists():
            for name in names:
                os.replace(staging / name, out / name)
        else:
            os.replace(staging, out)
    except OSError as exc:
        raise cannot_write(out, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: out / name for name in names}


def cannot_write(out: Path, exc: OSError) -> InputError:
    reason = exc.strerror or type(exc).__name__
    return InputError(f"I could not write the files into {out}: {reason}.")
