"""The web app over real HTTP on loopback: what each address answers, headers included.
(The pages in a real browser: test_browser.py.)"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from storage.shares import Shares
from storage.store import Store
from storage.views import Requester
from tests.storage.conftest import TINY_PNG, make_composition
from web.server import WebServer

NASTY = (
    '<script>alert("x")</script> **loud** [link](http://evil.example) <img src=x onerror=alert(1)>'
)


def _piece(store: Store, salt: str, *, private: bool = False, **kw: object) -> str:
    who = Requester(visibility="private" if private else "public")
    return store.record(
        make_composition(salt=salt, **kw),  # type: ignore[arg-type]
        who,
        source_image=TINY_PNG,
    )


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text outside tags."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


async def _get(server: WebServer, path: str, **kw: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as client:
        return await client.get(path, **kw)  # type: ignore[arg-type]


async def test_the_gallery_lists_public_pieces_and_finds_them_by_a_word(
    server: WebServer, store: Store
) -> None:
    public = _piece(store, "a", motivation="Waves became a lullaby of cellos.")
    private = _piece(store, "b", private=True, motivation="My secret cellos.")
    page = await _get(server, "/")
    assert page.status_code == 200
    assert f'href="/p/{public}"' in page.text and private not in page.text
    found = await _get(server, "/", params={"q": "cellos"})
    assert public in found.text and private not in found.text
    nothing = await _get(server, "/", params={"q": "trombone"})
    assert public not in nothing.text and "No piece here yet" in nothing.text


async def test_the_gallery_has_pages(server: WebServer, store: Store) -> None:
    ids = [_piece(store, str(i)) for i in range(26)]
    first = await _get(server, "/", params={"style": "folk"})
    shown = re.findall(r'data-id="(pt-[0-9a-f]+)"', first.text)
    assert shown == ids[::-1][:24]
    more = re.search(r'href="(/\?[^"]+)" rel="next"', first.text)
    assert more is not None and "style=folk" in more.group(1)
    second = await _get(server, more.group(1).replace("&amp;", "&"))
    assert re.findall(r'data-id="(pt-[0-9a-f]+)"', second.text) == ids[::-1][24:]
    assert 'rel="next"' not in second.text
    assert (await _get(server, "/", params={"before": "pt-000000"})).status_code == 404


async def test_a_piece_page_escapes_what_people_wrote(server: WebServer, store: Store) -> None:
    gid = _piece(
        store,
        "a",
        hint=NASTY,
        motivation=f"# Why this music\n\nYou asked for “{NASTY}”: so **a slow waltz**.",
    )
    response = await _get(server, f"/p/{gid}")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("style-src-attr")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    tags = parse(response.text)
    # No inline script, no script from elsewhere, no handler attribute anywhere.
    scripts = [a for t, a in tags.tags if t == "script"]
    assert scripts and all(a.get("src", "").startswith("/") for a in scripts)
    assert not any(k.startswith("on") for _, a in tags.tags for k in a)
    assert not any(t == "img" and a.get("src") == "x" for t, a in tags.tags)
    text = "".join(tags.text)
    assert text.count(NASTY) == 2  # the hint, and the hint quoted in the motivation
    assert "<strong>a slow waltz</strong>" in response.text  # the engine's own Markdown
    assert "<strong>loud</strong>" not in response.text  # the person's is text


async def test_files_have_etags_and_ranges(server: WebServer, store: Store) -> None:
    gid = _piece(store, "a", audio_size=5000)
    path = f"/p/{gid}/f/piece.mp3"
    whole = await _get(server, path)
    assert whole.status_code == 200 and len(whole.content) == 5000
    assert whole.headers["Accept-Ranges"] == "bytes"
    etag = whole.headers["ETag"]
    view = store.get(gid, workspace="local", user_id="local")
    assert etag == f'"{view.files["piece.mp3"].name}"'  # the content hash names the file
    assert (await _get(server, path, headers={"If-None-Match": etag})).status_code == 304
    part = await _get(server, path, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    assert part.headers["Content-Range"] == "bytes 100-199/5000"
    tail = await _get(server, path, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    open_ended = await _get(server, path, headers={"Range": "bytes=4990-"})
    assert open_ended.content == whole.content[4990:]
    beyond = await _get(server, path, headers={"Range": "bytes=9000-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == "bytes */5000"
    stale = await _get(server, path, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and len(stale.content) == 5000
    picture = await _get(server, f"/p/{gid}/f/picture")
    assert picture.content == TINY_PNG and picture.headers["Content-Type"] == "image/png"
    assert (await _get(server, f"/p/{gid}/f/result.json")).status_code == 404
    assert (await _get(server, f"/p/{gid}/f/..%2Fpictune.db")).status_code == 404


async def test_private_pieces_open_by_their_share_link_only(
    server: WebServer, store: Store
) -> None:
    gid = _piece(store, "a", private=True)
    assert (await _get(server, f"/p/{gid}")).status_code == 404
    assert (await _get(server, f"/p/{gid}/f/piece.mp3")).status_code == 404
    shares = Shares(store.db)
    token = shares.create(gid, workspace="local", user_id="local")
    page = await _get(server, f"/s/{token}")
    assert page.status_code == 200 and f'data-id="{gid}"' in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert '<meta name="robots" content="noindex">' in page.text
    assert f"/s/{token}/f/piece.mp3" in page.text and f"/p/{gid}/f/" not in page.text
    audio = await _get(server, f"/s/{token}/f/piece.mp3")
    assert audio.status_code == 200 and "private" in audio.headers["Cache-Control"]
    shares.revoke(token, user_id="local")
    for path in (f"/s/{token}", f"/s/{token}/f/piece.mp3", f"/s/{token}/embed"):
        assert (await _get(server, path)).status_code == 404
    other = shares.create(gid, workspace="local", user_id="local")
    store.delete(gid, by_user="local")
    assert (await _get(server, f"/s/{other}")).status_code == 404


async def test_a_deleted_piece_has_no_page(server: WebServer, store: Store) -> None:
    gid = _piece(store, "a")
    assert (await _get(server, f"/p/{gid}")).status_code == 200
    store.delete(gid, by_user="local")
    for path in (f"/p/{gid}", f"/p/{gid}/f/piece.mp3", f"/p/{gid}/embed"):
        gone = await _get(server, path)
        assert gone.status_code == 404 and "no piece here" in gone.text
    assert gid not in (await _get(server, "/")).text


async def test_link_previews_open_graph_and_oembed(server: WebServer, store: Store) -> None:
    gid = _piece(store, "a", caption='a "quoted" <b>moon</b>')
    page = (await _get(server, f"/p/{gid}")).text
    metas = {a.get("property"): a.get("content") for t, a in parse(page).tags if t == "meta"}
    assert metas["og:title"] == "A calm folk piece in D minor"  # as chat names it
    assert metas["og:description"] == 'a "quoted" <b>moon</b>'  # escaped in the HTML, whole here
    assert metas["og:image"] == f"{server.url}/p/{gid}/f/source.png"
    assert metas["og:audio"] == f"{server.url}/p/{gid}/f/piece.mp3"
    links = [a for t, a in parse(page).tags if t == "link" and a.get("type", "").endswith("oembed")]
    oembed = await _get(server, links[0]["href"].replace(server.url, ""))
    data = oembed.json()
    assert data["type"] == "rich" and data["title"] == "A calm folk piece in D minor"
    assert f'src="{server.url}/p/{gid}/embed"' in data["html"] and "<b>" not in data["html"]
    embed = await _get(server, f"/p/{gid}/embed")
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in (await _get(server, "/")).headers["Content-Security-Policy"]
    bad = await _get(server, "/oembed", params={"url": f"{server.url}/elsewhere"})
    assert bad.status_code == 404


async def test_requests_are_limited(server: WebServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.post("/", content=b"x")).status_code == 405
        assert (await client.get("/?q=" + "a" * 3000)).status_code == 414
        long = await client.request("GET", "/", content=b"x" * 5000)
        assert long.status_code == 413
        assert (await client.get("/static/../app.py")).status_code == 404
        assert (await client.get("/vendor/other.js")).status_code == 404
        assert (await client.head("/healthz")).status_code == 200


@pytest.mark.parametrize("path", ["/p/not-an-id", "/p/pt-000000", "/s/short", "/s/" + "a" * 43])
async def test_unknown_addresses_are_404(server: WebServer, path: str) -> None:
    assert (await _get(server, path)).status_code == 404
