"""bot/core.py without any chat platform: intake, composing, reruns, listings, settings, and
cancelling and delivering pieces asked for before the bot process restarted (the real local
job service on a real SQLite file)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.commands.compose import read_image_file
from bot.core import (
    Attachment,
    PictuneBot,
    ProgressThrottle,
    motivation_summary,
    pages,
    user_message,
)
from engine.bridge.hints import MAX_HINT_CHARS, check_hint
from engine.config import Settings
from engine.errors import (
    CorruptImage,
    FileAccessDenied,
    ImageError,
    ImageTooLarge,
    InvalidOption,
    LimitReached,
    LoginPageInsteadOfImage,
    NotFound,
    PictuneError,
    UnsupportedImage,
    too_large_message,
    unsupported_message,
)
from engine.image import decode_image
from service.api import JobEvent, Requester
from storage.store import Store
from tests.bot.jobs import ThreadJobService
from tests.images import rgb_png

ADA = Requester("discord", "guild-1", "ada", channel="c1", user_name="Ada")
GRACE = Requester("discord", "guild-1", "grace", channel="c1", user_name="Grace")
STRANGER = Requester("slack", "team-9", "ada", channel="c9")
SLACKER = Requester("slack", "team-9", "bob", channel="c9")


@pytest.fixture
async def core(settings: Settings, store: Store) -> AsyncIterator[PictuneBot]:
    small = settings.model_copy(update={"max_image_bytes": 200_000})
    bot = PictuneBot(small, ThreadJobService(store), store)
    yield bot
    await bot.close()


@pytest.fixture
async def files() -> AsyncIterator[str]:
    """A loopback file server: /png, /html, /big (lies about nothing), /slow, /missing."""

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # no Content-Length: only the stream tells
        await response.prepare(request)
        for _ in range(100):
            await response.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 8184)
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response(body=rgb_png())

    app = web.Application()
    app.router.add_get("/png", lambda r: _ok(web.Response(body=rgb_png())))
    app.router.add_get(
        "/html", lambda r: _ok(web.Response(text="<!DOCTYPE html><html>Sign in</html>"))
    )
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    app.router.add_get("/forbidden", lambda r: _ok(web.Response(status=403, text="no")))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def _ok(response: web.Response) -> web.Response:
    return response


@pytest.mark.parametrize(
    ("attachment", "error"),
    [
        (Attachment("a.pdf", "application/pdf", 100, "u"), UnsupportedImage),
        (Attachment("a.png", "image/png", 300_000, "u"), ImageTooLarge),
        (Attachment("a.txt", None, 10, "u"), UnsupportedImage),
        (Attachment("a.png", "image/png", 0, "u"), CorruptImage),
    ],
)
def test_check_attachment_refuses_from_metadata(
    core: PictuneBot, attachment: Attachment, error: type[Exception]
) -> None:
    with pytest.raises(error):
        core.check_attachment(attachment)


def test_check_attachment_accepts_images(core: PictuneBot) -> None:
    core.check_attachment(Attachment("a.png", "image/png", 1000, "u"))
    core.check_attachment(Attachment("a.JPG", None, None, "u"))  # no metadata: the bytes decide


def test_limits_in_messages_are_the_configured_ones(core: PictuneBot, tmp_path: Path) -> None:
    """One "too large" sentence, built from the setting (200 kB here, not "20 MB" nor "0 MB"),
    the same from the bots, the CLI, the job service and the engine."""
    limit = core.settings.max_image_bytes
    assert limit == 200_000
    with pytest.raises(ImageTooLarge) as bot_says:
        core.check_attachment(Attachment("a.png", "image/png", 300_000, "u"))
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * 300_000)
    with pytest.raises(ImageTooLarge) as cli_says:
        read_image_file(big, limit)
    with pytest.raises(ImageTooLarge) as engine_says:
        decode_image(b"\0" * 300_000, max_bytes=limit)
    sentence = f"That image is too large: send one up to {200_000 / 2**20:g} MB."
    assert bot_says.value.user_message == sentence == too_large_message(limit)
    assert cli_says.value.user_message == engine_says.value.user_message == sentence
    with pytest.raises(UnsupportedImage) as odd:
        core.check_attachment(Attachment("a.pdf", "application/pdf", 100, "u"))
    assert odd.value.user_message == unsupported_message(limit)
    assert "20 MB" not in odd.value.user_message


def test_the_hint_rule_is_the_same_for_cli_and_bots(core: PictuneBot) -> None:
    hint = "sad\x1b[31m piano\u202e\n"
    assert core.requests.check_options(ADA, hint=hint)[0] == check_hint(hint) == "sad[31m piano"
    with pytest.raises(InvalidOption, match=f"up to {MAX_HINT_CHARS} characters"):
        core.requests.check_options(ADA, hint="a" * (MAX_HINT_CHARS + 1))


async def test_download(core: PictuneBot, files: str) -> None:
    assert await core.download(f"{files}/png") == rgb_png()
    with pytest.raises(LoginPageInsteadOfImage) as page:
        await core.download(f"{files}/html")
    assert "web page" in page.value.user_message
    with pytest.raises(FileAccessDenied) as denied:
        await core.download(f"{files}/forbidden")
    assert not isinstance(denied.value, LoginPageInsteadOfImage)
    assert "not allowed" in denied.value.user_message
    with pytest.raises(ImageTooLarge):
        await core.download(f"{files}/big")
    with pytest.raises(ImageError, match="gone"):
        await core.download(f"{files}/missing")


async def test_download_timeout(core: PictuneBot, files: str, monkeypatch: Any) -> None:
    monkeypatch.setattr("service.intake.DOWNLOAD_TIMEOUT", 0.3)
    with pytest.raises(ImageError, match="too long"):
        await core.download(f"{files}/slow")


async def test_compose_show_and_rerun(core: PictuneBot, store: Store) -> None:
    events: list[JobEvent] = []

    async def progress(event: JobEvent) -> None:
        events.append(event)

    reply = await core.compose(ADA, rgb_png(), hint="  slow   sea ", progress=progress)
    assert events[0].stage == "queued" and any(e.stage == "audio" for e in events)
    assert reply.generation.hint == "slow sea"
    assert [name for name, _ in reply.files] == [
        "piece.mp3",
        "score.png",
        "picture.jpg",  # the picture it was made from, small
        "piece.mid",
        "piece.abc",
        "motivation.md",
    ]
    assert reply.summary.startswith("The **deep blue**")
    assert reply.footer.startswith(reply.id)
    assert dict(reply.fields)["Key"] == "D minor"
    # Why, in brief: what was seen, what was chosen, the wish, the tunes; no feature numbers.
    assert reply.why.startswith("I saw “")
    assert 3 <= reply.why.count(". ") + 1 <= 4
    assert "D minor" in reply.why and "“slow sea”" in reply.why
    assert not re.search(r"\b0\.\d", reply.why)
    assert not reply.story_threads  # threads only where a workspace turns them on
    assert reply.why_pages() == [reply.motivation_markdown.strip()]

    again = core.piece(GRACE, reply.id.upper())
    assert again.id == reply.id
    with pytest.raises(NotFound):
        core.piece(STRANGER, reply.id)  # another workspace never sees it

    refined = await core.rerun(GRACE, reply.id)
    assert refined.generation.parent_id == reply.id
    request = core.requests.service.requests[-1][0]  # type: ignore[attr-defined]
    assert request.parent_abc and request.parent_metrics == {"pitch_range": 12.5}
    variation = await core.rerun(GRACE, reply.id, variation=True)
    assert core.requests.service.requests[-1][0].parent_abc is None  # type: ignore[attr-defined]
    assert variation.id != refined.id


async def test_broken_image_leaves_no_history(core: PictuneBot, store: Store) -> None:
    good = rgb_png()
    with pytest.raises(CorruptImage):
        await core.compose(ADA, good[: len(good) // 2])
    with pytest.raises(UnsupportedImage):
        await core.compose(ADA, b"%PDF-1.4 not an image")
    assert store.count() == 0


def test_progress_text(core: PictuneBot) -> None:
    queued = JobEvent("j", "g", "queued", "queued", "", position=2)
    assert "2 pieces ahead" in core.progress_text(queued)
    running = JobEvent("j", "g", "running", "refine", "refining", step=2, total=3)
    assert core.progress_text(running) == "🎼 Refining (2 of 3)…"
    failed = JobEvent("j", "g", "failed", "failed", "", error="Try again.")
    assert "Try again." in core.progress_text(failed)


async def test_progress_throttle() -> None:
    sent: list[str] = []

    async def sink(text: str) -> None:
        sent.append(text)

    throttle = ProgressThrottle(sink, interval=60)
    await throttle("one")
    await throttle("two")  # too soon: dropped
    await throttle("three", force=True)
    await throttle("three", force=True)  # the same words: not sent again
    assert sent == ["one", "three"]


def test_motivation_summary_and_user_message() -> None:
    text = "# Why\n\nFirst  line\nwraps.\n\n## More\n\nSecond."
    assert motivation_summary(text) == "First line wraps."
    assert len(motivation_summary("x" * 1000, limit=50)) == 50
    assert user_message(RuntimeError("/secret/path")) == PictuneError.user_message
    assert user_message(LimitReached("Wait.")) == "Wait."


async def test_what_a_person_reads_about_pieces(core: PictuneBot) -> None:
    """The words around the library's answers: listings, details, settings, cancelling."""
    reply = await core.compose(ADA, rgb_png(), hint="waltz")
    assert reply.id in core.listing(core.library.history(ADA), "none")
    assert core.listing([], "Nothing yet.") == "Nothing yet."
    details = core.details(GRACE, reply.id)
    assert "piano" in details and "deep blue" in details
    assert "The Moon (oneills1850)" in details  # exemplar titles, from the stored summary
    assert "round 1: distance 0.100" in details
    assert core.favourite_text(reply.id, True).startswith("⭐")
    assert "no longer" in core.favourite_text(reply.id, False)
    assert reply.id in core.cancel_text([reply.id])
    choices = core.library.update_settings(
        ADA, is_manager=True, community_channel="c-gallery", max_duration=20
    )
    text = core.settings_text(choices)
    assert "c-gallery" in text and "Longest piece: 20 s" in text
    assert core.community_channel(ADA, reply) == "c-gallery"
    assert "Ada" in core.community_text(reply, None)


def test_the_whole_story_pages_keep_every_word_within_the_page_size() -> None:
    story = "\n\n".join(f"## Part {i}\n\n" + "The sea became a slow tune. " * 40 for i in range(9))
    story += "\n\n" + "a-very-long-line " * 300  # a paragraph longer than a page
    paged = pages(story, 1800)
    assert len(paged) > 3 and all(0 < len(p) <= 1800 for p in paged)
    assert " ".join(" ".join(paged).split()) == " ".join(story.split())
