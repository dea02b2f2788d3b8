"""Content-addressed files under the data directory.

A file lives at ``<root>/ab/cd/<sha256>``: the same bytes are kept once however many
generations use them (a rerun of the same image shares its source). Writes are atomic: a
temporary file in ``<root>/tmp`` is written, flushed to disk, then renamed into place, so a
reader (or a process killed half-way) never sees a partial file under its final name.
Leftover temporary files and files no row refers to are removed by ``Store.collect_garbage``;
``pictune db gc`` plans first and refuses to empty a store whose database was reset
(storage/gc.py).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import PictuneError
from engine.image import MIME_TYPES, sniff_image_format

MIME_BY_SUFFIX: dict[str, tuple[str, str]] = {
    # suffix -> (kind, mime)
    ".mp3": ("audio", "audio/mpeg"),
    ".ogg": ("audio", "audio/ogg"),
    ".wav": ("audio", "audio/wav"),
    ".flac": ("audio", "audio/flac"),
    ".mid": ("midi", "audio/midi"),
    ".abc": ("abc", "text/vnd.abc"),
    ".png": ("score", "image/png"),
    ".svg": ("score", "image/svg+xml"),
    ".md": ("motivation", "text/markdown"),
    ".json": ("summary", "application/json"),
}

# Files named for what they are rather than their type.
KIND_BY_NAME: dict[str, tuple[str, str]] = {
    "attention.png": ("attention", "image/png"),
}

# Extension of a stored source image, by the format intake's sniffing names.
IMAGE_EXTENSIONS = {
    "PNG": "png",
    "JPEG": "jpg",
    "WEBP": "webp",
    "GIF": "gif",
    "TIFF": "tiff",
    "BMP": "bmp",
}


class ArtifactMissing(PictuneError):
    user_message = "The files of that piece are no longer available."


def describe_file(name: str) -> tuple[str, str]:
    """(kind, mime) of a generation file from its name."""
    if name in KIND_BY_NAME:
        return KIND_BY_NAME[name]
    return MIME_BY_SUFFIX.get(Path(name).suffix.lower(), ("other", "application/octet-stream"))


def sniff_image(data: bytes) -> tuple[str, str]:
    """(extension, mime) of an uploaded image; ("bin", octet-stream) when unknown."""
    fmt = sniff_image_format(data[:32])
    if fmt is None:
        return "bin", "application/octet-stream"
    return IMAGE_EXTENSIONS[fmt], MIME_TYPES[fmt]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    rel_path: str


class ArtifactStore:
    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.fsync = fsync  # survive power loss, not only a killed process
        self.tmp.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def rel_path(sha256: str) -> str:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path(self, sha256: str) -> Path:
        return self.root / self.rel_path(sha256)

    def has(self, sha256: str, size: int | None = None) -> bool:
        try:
            st = self.path(sha256).stat()
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def put(self, data: bytes) -> StoredFile:
        """Store ``data`` (once: an existing file with these bytes is reused)."""
        sha = sha256_hex(data)
        final = self.path(sha)
        if not self.has(sha, len(data)):
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix=sha[:12] + ".")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    if self.fsync:
                        os.fsync(fh.fileno())
                os.replace(tmp_name, final)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
            if self.fsync:
                _fsync_dir(final.parent)
        return StoredFile(sha256=sha, size=len(data), rel_path=self.rel_path(sha))

    def read(self, sha256: str) -> bytes:
        """The bytes, checked against their hash (a damaged file is reported, not served)."""
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise ArtifactMissing(detail=f"artifact {sha256} is missing") from exc
        if sha256_hex(data) != sha256:
            raise ArtifactMissing(detail=f"artifact {sha256} is damaged")
        return data

    def remove(self, sha256: str) -> bool:
        path = self.path(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        for parent in (path.parent, path.parent.parent):  # tidy empty fan-out folders
            try:
                parent.rmdir()
            except OSError:
                break
        return True

    def stored(self, *, older_than_s: float = 0.0) -> Iterator[str]:
        """Hashes of the files present, skipping those modified in the last ``older_than_s``."""
        cutoff = time.time() - older_than_s
        for path in self.root.glob("??/??/*"):
            if len(path.name) == 64 and path.is_file() and path.stat().st_mtime <= cutoff:
                yield path.name

    def sweep_tmp(self, *, older_than_s: float = 3600.0) -> int:
        """Remove temporary files left by writers that died; returns how many."""
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self.tmp.iterdir():
            try:
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
