"""What every answer carries, and what every request may ask.

A strict Content-Security-Policy (scripts and styles only from this origin, nothing inline,
no plugins, no framing except the embeddable player), no MIME sniffing, no referrer on a
share link's page (its address is the secret). Requests: GET and HEAD only, a short URL,
no body, and a bounded number at work at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

MAX_URL = 2048
MAX_BODY = 1024
MAX_AT_ONCE = 64  # requests being answered; more get 503 rather than queueing without end
# abcjs (pinned in package-lock.json) puts one constant <style> into each score (no
# text selection while dragging) and sets layout through style attributes: that element is
# allowed by its hash, and style attributes (which cannot run code) are.
ABCJS_STYLE = "'sha256-BCpnf71gZdCsSCHDzyB1RsBbZ0qQdqseK6v+yJsgg30='"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    f"style-src-elem 'self' {ABCJS_STYLE}; style-src-attr 'unsafe-inline'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors {ancestors}"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def csp(*, embeddable: bool = False) -> str:
    return CSP.format(ancestors="*" if embeddable else "'none'")


def middleware() -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    busy = asyncio.Semaphore(MAX_AT_ONCE)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        if len(request.raw_path) > MAX_URL:
            raise web.HTTPRequestURITooLong()
        if request.content_length:
            raise web.HTTPRequestEntityTooLarge(max_size=0, actual_size=request.content_length)
        if busy.locked():
            raise web.HTTPServiceUnavailable(headers={"Retry-After": "1"})
        async with busy:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
        response.headers.setdefault("Content-Security-Policy", csp())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if isinstance(response, web.HTTPException):
            raise response
        return response

    return guard
