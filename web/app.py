"""The web app: routes, and what each answers.

    /                     the public gallery: newest first, pages, search, filters
    /p/<id>               a piece's page (public pieces of published workspaces)
    /p/<id>/f/<name>      one of its files (ETag, ranges)
    /p/<id>/embed         the player other sites frame (oEmbed)
    /s/<token>...         the same for a share link: any piece, until the link is revoked
    /oembed?url=          oEmbed JSON for a piece's address
    /static/<name>        the page's own CSS and JavaScript
    /vendor/abcjs.js      abcjs, from node_modules (npm ci by scripts/setup.sh)
    /healthz              the database answers

The database is synchronous: each question runs in a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from engine.config import Settings
from engine.errors import NotFound
from storage.gallery import Filters, Gallery, WebPiece, published_from
from storage.search import LazyEmbedder, TextEmbedder
from storage.shares import Shares
from storage.store import Store
from web import files, pages, security

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent
STATIC = ROOT / "static"
NODE_MODULES = ROOT.parent / "node_modules"
VENDOR = {"abcjs.js": NODE_MODULES / "abcjs" / "dist" / "abcjs-basic-min.js"}
PAGE_SIZE = 24
PUBLIC_CACHE = "public, max-age=60, must-revalidate"  # a deleted piece goes within a minute
SHARED_CACHE = "private, no-cache"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Site:
    settings: Settings
    store: Store
    gallery: Gallery
    shares: Shares


def make_app(
    settings: Settings, store: Store, *, embedder: TextEmbedder | None = None
) -> web.Application:
    """The web app over an open Store (the caller closes it)."""
    chosen: TextEmbedder | LazyEmbedder | None = None
    if settings.semantic_search:
        chosen = embedder if embedder is not None else LazyEmbedder(settings)
    gallery = Gallery(
        store.db,
        store.artifacts,
        published=published_from(settings.web_workspaces),
        embedder=chosen,
    )
    site = Site(settings, store, gallery, Shares(store.db))
    app = web.Application(middlewares=[security.middleware()], client_max_size=security.MAX_BODY)
    if not VENDOR["abcjs.js"].is_file():
        log.warning("abcjs is not installed (run `npm ci`): scores show as pictures only")
    handlers = Handlers(site)
    app.router.add_get("/", handlers.gallery)
    app.router.add_get("/p/{id}", handlers.piece)
    app.router.add_get("/p/{id}/embed", handlers.embed)
    app.router.add_get("/p/{id}/f/{name}", handlers.file)
    app.router.add_get("/s/{token}", handlers.shared_piece)
    app.router.add_get("/s/{token}/embed", handlers.shared_embed)
    app.router.add_get("/s/{token}/f/{name}", handlers.shared_file)
    app.router.add_get("/oembed", handlers.oembed)
    app.router.add_get("/static/{name}", handlers.static)
    app.router.add_get("/vendor/{name}", handlers.vendor)
    app.router.add_get("/healthz", handlers.healthz)
    return app


class Handlers:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.pieces = site.gallery

    # ----------------------------------------------------------------- pages

    async def gallery(self, request: web.Request) -> web.Response:
        q = request.query
        filters = Filters(
            style=q.get("style") or None,
            mood=q.get("mood") or None,
            workspace=q.get("workspace") or None,
        )
        text = (q.get("q") or "").strip()[:200]
        before = q.get("before") or None
        try:
            if text:
                views = await asyncio.to_thread(
                    self.pieces.search, text, filters=filters, limit=PAGE_SIZE
                )
                more = None
            else:
                views = await asyncio.to_thread(
                    self.pieces.page, filters=filters, before=before, limit=PAGE_SIZE + 1
                )
                more = None
                if len(views) > PAGE_SIZE:
                    views = views[:PAGE_SIZE]
                    kept = {k: v for k, v in q.items() if k in ("style", "mood", "workspace")}
                    more = "/?" + urlencode({**kept, "before": views[-1].id})
        except NotFound:  # a stale or made-up page cursor
            raise _not_found() from None
        body = pages.gallery(
            views,
            text=text,
            filters=filters,
            more=more,
            workspaces=self.pieces.published,
        )
        return _html(body, cache="no-cache")

    async def piece(self, request: web.Request) -> web.Response:
        piece = await self._piece(request.match_info["id"])
        base = f"/p/{piece.view.id}"
        body = pages.piece(piece, base=base, origin=self._origin(request), shared=False)
        return _html(body, cache="no-cache")

    async def shared_piece(self, request: web.Request) -> web.Response:
        piece = await self._shared(request.match_info["token"])
        base = f"/s/{request.match_info['token']}"
        body = pages.piece(piece, base=base, origin=self._origin(request), shared=True)
        response = _html(body, cache="private, no-store")
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex"
        return response

    async def embed(self, request: web.Request) -> web.Response:
        piece = await self._piece(request.match_info["id"])
        response = _html(pages.embed(piece, base=f"/p/{piece.view.id}"), cache="no-cache")
        response.headers["Content-Security-Policy"] = security.csp(embeddable=True)
        return response

    async def shared_embed(self, request: web.Request) -> web.Response:
        piece = await self._shared(request.match_info["token"])
        base = f"/s/{request.match_info['token']}"
        response = _html(pages.embed(piece, base=base), cache="private, no-store")
        response.headers["Content-Security-Policy"] = security.csp(embeddable=True)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    # ----------------------------------------------------------------- files

    async def file(self, request: web.Request) -> web.Response:
        gen_id, name = request.match_info["id"], request.match_info["name"]
        return await self._file(request, gen_id, name, shared=False)

    async def shared_file(self, request: web.Request) -> web.Response:
        gen_id = await asyncio.to_thread(self.site.shares.resolve, request.match_info["token"])
        if gen_id is None:
            raise _not_found()
        response = await self._file(request, gen_id, request.match_info["name"], shared=True)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def _file(
        self, request: web.Request, gen_id: str, name: str, *, shared: bool
    ) -> web.Response:
        try:
            found = await asyncio.to_thread(self.pieces.file, gen_id, name, shared=shared)
        except NotFound:
            raise _not_found() from None
        path = self.site.store.artifacts.path(found.sha256)
        if not path.is_file():
            raise _not_found()
        return files.file_response(
            request,
            path,
            etag=found.sha256,
            mime=found.mime,
            size=path.stat().st_size,
            cache=SHARED_CACHE if shared else PUBLIC_CACHE,
        )

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        path = STATIC / name
        if "/" in name or path.suffix not in STATIC_TYPES or not path.is_file():
            raise _not_found()
        return _asset(request, path, STATIC_TYPES[path.suffix])

    async def vendor(self, request: web.Request) -> web.Response:
        path = VENDOR.get(request.match_info["name"])
        if path is None or not path.is_file():
            raise _not_found()
        return _asset(request, path, STATIC_TYPES[".js"])

    # ----------------------------------------------------------------- other

    async def oembed(self, request: web.Request) -> web.Response:
        url = request.query.get("url", "")
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) != 2 or segments[0] not in ("p", "s"):
            raise _not_found()
        if segments[0] == "p":
            piece = await self._piece(segments[1])
        else:
            piece = await self._shared(segments[1])
        origin = self._origin(request)
        data = pages.oembed(piece, base=f"/{segments[0]}/{segments[1]}", origin=origin)
        return web.json_response(data, headers={"Cache-Control": "no-cache"})

    async def healthz(self, _request: web.Request) -> web.Response:
        try:
            await asyncio.to_thread(self.pieces.ping)
        except Exception:
            log.warning("healthz: the database does not answer", exc_info=True)
            return web.json_response({"ok": False}, status=503)
        return web.json_response({"ok": True})

    # ----------------------------------------------------------------- helpers

    async def _piece(self, gen_id: str) -> WebPiece:
        try:
            return await asyncio.to_thread(self.pieces.piece, gen_id)
        except NotFound:
            raise _not_found() from None

    async def _shared(self, token: str) -> WebPiece:
        gen_id = await asyncio.to_thread(self.site.shares.resolve, token)
        if gen_id is None:
            raise _not_found()
        try:
            return await asyncio.to_thread(self.pieces.piece, gen_id, shared=True)
        except NotFound:
            raise _not_found() from None

    def _origin(self, request: web.Request) -> str:
        configured = self.site.settings.public_url
        if configured:
            return configured.rstrip("/")
        return f"{request.scheme}://{request.host}"


def _html(body: str, *, cache: str) -> web.Response:
    return web.Response(
        text=body, content_type="text/html", charset="utf-8", headers={"Cache-Control": cache}
    )


def _asset(request: web.Request, path: Path, mime: str) -> web.Response:
    stat = path.stat()
    etag = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
    return files.file_response(
        request, path, etag=etag, mime=mime, size=stat.st_size, cache="public, max-age=3600"
    )


def _not_found() -> web.HTTPNotFound:
    return web.HTTPNotFound(
        text=pages.not_found(), content_type="text/html", headers={"Cache-Control": "no-store"}
    )
