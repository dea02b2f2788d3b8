"""The pages in a real headless Chromium: the score drawn from the piece's ABC, the cursor
following the audio, search, private pieces and share links, escaping, JavaScript off."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import music21
import numpy as np
import pytest
from PIL import Image

from engine.config import Settings
from engine.pipeline import Pipeline
from engine.types import ComposeRequest
from storage.shares import Shares
from storage.store import Store
from storage.views import Requester
from tests.storage.conftest import TINY_PNG, make_composition
from tests.web.browser import CHROMIUM, Problems, chromium
from web.app import VENDOR
from web.server import WebServer

pytestmark = pytest.mark.slow
HINT = '<script>alert("hi")</script> **slow** _waltz_'


@pytest.fixture(autouse=True)
def _installed() -> None:
    """Never skipped: CI installs both (scripts/test.sh, scripts/setup.sh)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install chromium (scripts/test.sh as root)")
    if not VENDOR["abcjs.js"].is_file():
        pytest.fail("abcjs is not installed: run `npm ci` (scripts/setup.sh does)")


@pytest.fixture(scope="module")
def real_piece() -> Iterator[tuple[bytes, object]]:
    """One piece from the real pipeline (8 s, no refinement): real MP3, ABC and score."""
    yield _compose(noise=5, seed=4, hint=HINT)


def _compose(*, noise: int, seed: int, hint: str) -> tuple[bytes, Any]:
    """A picture of random pixels and the piece the real pipeline makes of it (8 s, no
    refinement)."""
    pixels = np.random.default_rng(noise).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    image = buf.getvalue()
    piece = Pipeline(Settings(_env_file=None)).run(
        ComposeRequest(image=image, duration=8.0, refine_rounds=0, seed=seed, hint=hint)
    )
    return image, piece


def _record(store: Store, real_piece: tuple[bytes, object]) -> str:
    image, piece = real_piece
    return store.record(piece, Requester(), source_image=image)  # type: ignore[arg-type]


def _notes_per_voice(abc: str) -> list[int]:
    score = music21.converter.parse(abc, format="abc")
    return [len(part.flatten().notes) for part in score.parts]


async def _open_score(browser: Any, url: str) -> tuple[Any, Problems]:
    """A piece's page, once abcjs has drawn its score, and the problems it reports."""
    page = await browser.new_page()
    problems = Problems()
    problems.watch(page)
    await page.goto(url)
    await page.wait_for_selector("#score svg .abcjs-note")
    return page, problems


async def _drawn_per_voice(page: Any, abc: str) -> list[int]:
    return [
        await page.locator(f"#score svg .abcjs-note.abcjs-v{v}").count()
        for v in range(len(_notes_per_voice(abc)))
    ]


async def test_the_piece_page_draws_the_score_and_follows_the_audio(
    server: WebServer, store: Store, real_piece: tuple[bytes, object]
) -> None:
    gid = _record(store, real_piece)
    abc = real_piece[1].abc  # type: ignore[attr-defined]
    async with chromium() as browser:
        page, problems = await _open_score(browser, f"{server.url}/p/{gid}")
        # The score holds the piece's notes, voice by voice.
        assert await _drawn_per_voice(page, abc) == _notes_per_voice(abc)
        assert await page.locator("#score-image").is_hidden()  # the picture gives way
        # Pressing play: the audio advances and the cursor moves across the score.
        await page.click("#play")
        await page.wait_for_function("() => document.getElementById('player').currentTime > 0.5")
        first = await _cursor(page)
        await page.wait_for_function(
            "() => document.getElementById('player').currentTime > 2.5", timeout=15000
        )
        second = await _cursor(page)
        assert second["index"] > first["index"] >= 0
        assert second["x"] != first["x"]
        assert second["lit"] > 0  # the notes sounding now are highlighted
        # The hint shows as the text it is: no script ran, no Markdown was applied.
        assert await page.text_content("#hint") == HINT
        assert HINT in (await page.text_content("#motivation") or "")  # quoted there too
        assert await page.locator("strong").filter(has_text=re.compile(r"^slow$")).count() == 0
        assert problems.errors == []


async def test_a_keyboard_player_reads_on_a_grand_staff(server: WebServer, store: Store) -> None:
    """A solo piano's melody, chords and bass are drawn as the score picture lays them out:
    two staves joined by a brace, the left hand in the bass clef; the ABC shown to read and
    download is the piece's own."""
    image, piece = _compose(noise=7, seed=2, hint="sad piano")
    assert {p for p in re.findall(r"%%MIDI program (\d+)", piece.abc)} == {"0"}  # piano alone
    gid = _record(store, (image, piece))
    async with chromium() as browser:
        page, problems = await _open_score(browser, f"{server.url}/p/{gid}")
        assert await page.locator('#score svg [data-name="brace"]').count() >= 1
        assert await page.locator('#score svg [data-name="clefs.F"]').count() >= 1
        assert await _drawn_per_voice(page, piece.abc) == _notes_per_voice(piece.abc)
        assert await page.text_content("#abc-source") == piece.abc
        assert problems.errors == []


async def _cursor(page: object) -> dict[str, float]:
    return await page.evaluate(  # type: ignore[attr-defined]
        """() => ({
            index: Number(document.getElementById('score').dataset.cursor ?? -1),
            x: Number(document.querySelector('#score .abcjs-cursor').getAttribute('x1')),
            lit: document.querySelectorAll('#score .abcjs-highlight').length,
        })"""
    )


async def test_with_javascript_off_the_page_still_shows_everything(
    server: WebServer, store: Store, real_piece: tuple[bytes, object]
) -> None:
    gid = _record(store, real_piece)
    async with chromium() as browser:
        context = await browser.new_context(java_script_enabled=False)
        page = await context.new_page()
        await page.goto(f"{server.url}/p/{gid}")
        for selector in ("#picture", "#score-image"):
            assert await page.locator(selector).is_visible()
            loaded = await page.eval_on_selector(selector, "img => img.naturalWidth")
            assert loaded > 0
        assert await page.locator("#player").count() == 1
        assert await page.locator("#play").is_hidden()
        assert "Why this music" in (await page.text_content("#motivation") or "")


async def test_search_private_pieces_and_share_links(server: WebServer, store: Store) -> None:
    public = store.record(
        make_composition(salt="a", motivation="A heron stood in the reeds: a slow air."),
        Requester(),
        source_image=TINY_PNG,
    )
    private = store.record(
        make_composition(salt="b", motivation="Another heron, for me alone."),
        Requester(visibility="private"),
        source_image=TINY_PNG,
    )
    shares = Shares(store.db)
    token = shares.create(private, workspace="local", user_id="local")
    async with chromium() as browser:
        page = await browser.new_page()
        problems = Problems()
        problems.watch(page)
        await page.goto(server.url + "/")
        assert await page.locator(f'.card[data-id="{public}"]').count() == 1
        assert await page.locator(f'.card[data-id="{private}"]').count() == 0
        await page.fill('input[name="q"]', "heron")
        await page.click('form.search button[type="submit"]')
        await page.wait_for_url(re.compile(r"q=heron"))
        cards = await page.eval_on_selector_all(".card", "cs => cs.map(c => c.dataset.id)")
        assert cards == [public]
        assert (await page.goto(f"{server.url}/p/{private}")).status == 404
        problems.errors.clear()  # that 404 was asked for
        shared = await page.goto(f"{server.url}/s/{token}")
        assert shared.status == 200
        assert await page.get_attribute("article.piece", "data-id") == private
        assert problems.errors == []
        shares.revoke(token, user_id="local")
        assert (await page.goto(f"{server.url}/s/{token}")).status == 404
        store.delete(public, by_user="local")
        assert (await page.goto(f"{server.url}/p/{public}")).status == 404
        await page.goto(server.url + "/")
        assert await page.locator(".card").count() == 0


async def test_the_player_keeps_time_with_ranges(
    server: WebServer, store: Store, real_piece: tuple[bytes, object]
) -> None:
    """Seeking asks for a byte range; the cursor jumps with the audio."""
    gid = _record(store, real_piece)
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(f"{server.url}/p/{gid}")
        await page.wait_for_selector("#score svg .abcjs-note")
        await page.evaluate("document.getElementById('player').currentTime = 6")
        await page.wait_for_function(
            "() => Number(document.getElementById('score').dataset.cursor) > 0"
        )
        late = await _cursor(page)
        await page.evaluate("document.getElementById('player').currentTime = 0.1")
        await asyncio.sleep(0.3)
        early = await _cursor(page)
        assert late["index"] > early["index"]
