"""Output folders of the CLI (`compose --out`, `show --out`, `index import --out`): checked
before slow work starts, filled all at once or not at all.

Files are written into a hidden staging folder first (``.pictune-PID-XXXXXXXX.part`` beside
the output folder), then moved into place with ``os.replace``: a failure or Ctrl-C half way
leaves no half-written set of files behind. A SIGKILL can still leave a staging folder (a full
copy of the files): ``sweep_staging`` removes those of dead processes before the next one.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from engine.errors import InputError, PictuneError, StorageFull, StorageReadOnly, os_fault

log = logging.getLogger(__name__)

STAGING = re.compile(r"^\.pictune-(?:(\d+)-)?[0-9a-f]{8}\.part$")
# A staging folder lives for the seconds between writing and publishing; one of a live
# process older than this belongs to a reused pid, and one of an unknown owner (the old name
# without a pid) is left this long in case its process is still publishing.
STALE_STAGING_S = 24 * 3600.0
UNOWNED_STAGING_S = 3600.0


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
        staging = folder / f".pictune-{os.getpid()}-{secrets.token_hex(4)}.part"
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


def cannot_write(out: Path, exc: OSError) -> PictuneError:
    """The error for a failed write into ``out``: a full or read-only disk is named as such
    (it is not the request's fault); other failures say the system's reason."""
    fault = os_fault(exc)
    if isinstance(fault, StorageFull):
        return StorageFull(f"The disk holding {out} is full: free some space and try again.")
    if isinstance(fault, StorageReadOnly):
        return StorageReadOnly(f"I may not write into {out} (read-only): choose another folder.")
    reason = exc.strerror or type(exc).__name__
    return InputError(f"I could not write the files into {out}: {reason}.")


def sweep_staging(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove staging folders in ``folder`` left by processes that died (SIGKILL, power
    loss); returns those removed. Best effort: a folder that cannot be read is left."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = STAGING.match(path.name)
        if match is None or not path.is_dir():
            continue
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        pid = int(match.group(1)) if match.group(1) else None
        if pid is None:
            stale = age > UNOWNED_STAGING_S
        else:
            stale = pid != os.getpid() and (not _alive(pid) or age > STALE_STAGING_S)
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    if removed:
        log.warning("removed %d staging folder(s) left by dead processes", len(removed))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
