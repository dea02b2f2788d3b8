"""Serving stored files: ETags from their content hash, HTTP range requests for audio.

A piece's files are content-addressed (storage/artifacts.py), so the SHA-256 is a strong
validator: ``If-None-Match`` answers 304, ``If-Range`` with it allows a partial answer.
One byte range is served (what media elements ask for); several, or one outside the file,
get the whole file or 416 as RFC 9110 allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive


def parse_range(header: str | None, size: int) -> ByteRange | None | str:
    """None: serve the whole file; "unsatisfiable": 416; else the one range asked for."""
    if not header:
        return None
    match = RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: the whole file
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        if n == 0:
            return "unsatisfiable"
        return ByteRange(max(0, size - n), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return ByteRange(start, end)


def file_response(
    request: web.Request, path: Path, *, etag: str, mime: str, cache: str, size: int
) -> web.Response:
    quoted = f'"{etag}"'
    headers = {
        "ETag": quoted,
        "Cache-Control": cache,
        "Accept-Ranges": "bytes",
        "Content-Type": mime,
    }
    if quoted in _etags(request.headers.get("If-None-Match")):
        return web.Response(status=304, headers=headers)
    wanted = parse_range(request.headers.get("Range"), size)
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != quoted:
        wanted = None  # the copy the reader holds is another one: send it all
    if wanted == "unsatisfiable":
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    status, start, length = 200, 0, size
    if isinstance(wanted, ByteRange):
        status, start, length = 206, wanted.start, wanted.end - wanted.start + 1
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    with path.open("rb") as fh:  # files are small (an MP3 of a minute: ~1 MB)
        fh.seek(start)
        body = fh.read(length)
    return web.Response(status=status, body=body, headers=headers)  # HEAD: aiohttp drops it


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}
