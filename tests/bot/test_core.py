"""bot/core.py without any chat platform: intake, composing, reruns, listings, settings, and
cancelling and delivering pieces asked for before the bot process restarted (the real local
job service on a real SQLite file)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import update

from bot.commands.compose import read_image_file
from bot.core import (
    Attachment,
    Orphan,
    PictuneBot,
    ProgressThrottle,
    motivation_summary,
    place_words,
    user_message,
)
from engine.bridge.hints import MAX_HINT_CHARS, check_hint
from engine.config import Settings
from engine.errors import (
    Cancelled,
    CorruptImage,
    FileAccessDenied,
    Forbidden,
    ImageError,
    ImageTooLarge,
    InputError,
    InvalidOption,
    JobFailed,
    LimitReached,
    LoginPageInsteadOfImage,
    NotFound,
    PictuneError,
    UnsupportedImage,
    too_large_message,
    unsupported_message,
)
from engine.image import decode_image
from engine.types import ComposeRequest, Composition, ProgressFn
from service.api import JobEvent, JobInfo, JobService, Requester
from service.celery_backend import CeleryJobService
from service.local import LocalJobService
from service.worker_runtime import WorkerRuntime
from storage.models import Generation, utcnow
from storage.store import Store
from tests.bot.jobs import RecordingPipeline, ThreadJobService, gated
from tests.bot.restarts import waiting_in
from tests.images import rgb_png
from tests.storage.conftest import FakeEmbedder

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
    assert core.check_options(ADA, hint=hint)[0] == check_hint(hint) == "sad[31m piano"
    with pytest.raises(InvalidOption, match=f"up to {MAX_HINT_CHARS} characters"):
        core.check_options(ADA, hint="a" * (MAX_HINT_CHARS + 1))


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
        "piece.mid",
        "piece.abc",
        "motivation.md",
    ]
    assert reply.summary.startswith("The **deep blue**")
    assert reply.footer.startswith(reply.id)
    assert dict(reply.fields)["Key"] == "D minor"

    again = core.show(GRACE, reply.id.upper())
    assert again.id == reply.id
    with pytest.raises(NotFound):
        core.show(STRANGER, reply.id)  # another workspace never sees it

    refined = await core.rerun(GRACE, reply.id)
    assert refined.generation.parent_id == reply.id
    request = core.service.requests[-1][0]  # type: ignore[attr-defined]
    assert request.parent_abc and request.parent_metrics == {"pitch_range": 12.5}
    variation = await core.rerun(GRACE, reply.id, variation=True)
    assert core.service.requests[-1][0].parent_abc is None  # type: ignore[attr-defined]
    assert variation.id != refined.id


async def test_broken_image_leaves_no_history(core: PictuneBot, store: Store) -> None:
    good = rgb_png()
    with pytest.raises(CorruptImage):
        await core.compose(ADA, good[: len(good) // 2])
    with pytest.raises(UnsupportedImage):
        await core.compose(ADA, b"%PDF-1.4 not an image")
    assert store.count() == 0


async def test_options_are_checked(core: PictuneBot) -> None:
    with pytest.raises(InvalidOption):
        await core.compose(ADA, rgb_png(), mode="opera")
    with pytest.raises(InvalidOption):
        await core.compose(ADA, rgb_png(), hint="x" * 201)
    assert core.check_options(ADA, duration=9999)[2] == core.settings.max_duration


async def test_one_rerun_per_user_and_piece(core: PictuneBot) -> None:
    reply = await core.compose(ADA, rgb_png())
    first = asyncio.create_task(core.rerun(ADA, reply.id))
    await asyncio.sleep(0)  # the first has claimed its place
    assert core.rerun_in_progress(ADA, reply.id)
    with pytest.raises(LimitReached):
        await core.rerun(ADA, reply.id)
    other = await core.rerun(GRACE, reply.id)  # someone else may
    await first
    assert other.generation.parent_id == reply.id
    assert not core.rerun_in_progress(ADA, reply.id)


async def test_listings_favourites_and_delete(core: PictuneBot) -> None:
    reply = await core.compose(ADA, rgb_png(), hint="waltz")
    assert [v.id for v in core.history(GRACE)] == [reply.id]
    assert [v.id for v in core.history(GRACE, user_id="grace")] == []
    assert [v.id for v in core.search(GRACE, "moon")] == [reply.id]
    assert reply.id in core.listing(core.history(ADA), "none")
    assert core.favourite(GRACE, reply.id) is True
    assert [v.id for v in core.favourites(GRACE)] == [reply.id]
    assert core.favourite(GRACE, reply.id) is False
    details = core.details(GRACE, reply.id)
    assert "piano" in details and "deep blue" in details
    assert "The Moon (oneills1850)" in details  # exemplar titles, from the stored summary
    assert "round 1: distance 0.100" in details
    with pytest.raises(Forbidden):
        core.delete(GRACE, reply.id)
    assert core.delete(GRACE, reply.id, is_manager=True) == reply.id
    with pytest.raises(NotFound):
        core.show(ADA, reply.id)


async def test_messages_find_their_piece(core: PictuneBot) -> None:
    reply = await core.compose(ADA, rgb_png())
    core.link_message(reply.id, "m-1")
    assert core.generation_for_message(GRACE, "m-1") == reply.id
    assert core.generation_for_message(STRANGER, "m-1") is None
    assert core.generation_for_message(GRACE, "m-2") is None


async def test_settings_and_quota(core: PictuneBot) -> None:
    with pytest.raises(Forbidden):
        core.update_settings(ADA, is_manager=False, default_mode="symbolic")
    with pytest.raises(InvalidOption):
        core.update_settings(ADA, is_manager=True, default_mode="opera")
    choices = core.update_settings(
        ADA, is_manager=True, community_channel="c-gallery", user_daily_quota=1
    )
    assert choices.community_channel == "c-gallery" and choices.user_daily_quota == 1
    assert "c-gallery" in core.settings_text(choices)
    reply = await core.compose(ADA, rgb_png())
    assert core.community_channel(ADA, reply) == "c-gallery"
    with pytest.raises(LimitReached, match="daily limit"):
        await core.compose(ADA, rgb_png())
    await core.compose(GRACE, rgb_png())  # others are not held back
    core.update_settings(ADA, is_manager=True, community_channel="")
    assert core.community_channel(ADA, reply) is None


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


async def test_daily_quota_counts_pieces_on_their_way(core: PictuneBot, store: Store) -> None:
    core.update_settings(ADA, is_manager=True, user_daily_quota=2)
    await core.compose(ADA, rgb_png())
    # A piece still queued counts too: asking twice at once does not slip past the limit.
    origin = Requester(platform="discord", workspace="guild-1", user_id="ada")
    store.create_pending(origin, image_sha256="ab" * 32, mode="symbolic")
    with pytest.raises(LimitReached, match="2 pieces today, this server's daily limit"):
        await core.compose(ADA, rgb_png())
    # Deleting a piece does not give its place back.
    for view in core.history(ADA, user_id="ada"):
        core.delete(ADA, view.id)
    with pytest.raises(LimitReached):
        await core.compose(ADA, rgb_png())


async def test_wording_follows_the_platform(core: PictuneBot) -> None:
    assert place_words("discord").place == "server"
    assert place_words("slack").place == "workspace"
    core.update_settings(SLACKER, is_manager=True, workspace_daily_quota=1)
    reply = await core.compose(SLACKER, rgb_png())
    with pytest.raises(LimitReached) as caught:
        await core.compose(STRANGER, rgb_png())
    assert "This workspace has reached" in caught.value.user_message
    with pytest.raises(Forbidden, match="workspace admins") as refused:
        core.update_settings(SLACKER, is_manager=False, default_mode="audio")
    assert "server" not in refused.value.user_message
    with pytest.raises(Forbidden) as refused:
        core.delete(STRANGER, reply.id)
    assert "workspace admins" in refused.value.user_message
    with pytest.raises(Forbidden, match="server managers"):
        core.update_settings(ADA, is_manager=False, default_mode="audio")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"max_duration": "45"}, 45.0),
        ({"max_duration": "45s"}, 45.0),
        ({"max_duration": 0}, None),
        ({"user_daily_quota": "3"}, 3),
        ({"user_daily_quota": "0"}, None),
    ],
)
def test_settings_accept_numbers_as_typed(
    core: PictuneBot, changes: dict[str, Any], expected: Any
) -> None:
    choices = core.update_settings(ADA, is_manager=True, **changes)
    assert getattr(choices, next(iter(changes))) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"max_duration": "long"},
        {"max_duration": 9999},
        {"max_duration": 1},  # under the deployment's shortest piece
        {"max_duration": "nan"},
        {"user_daily_quota": "lots"},
        {"user_daily_quota": "2.5"},
        {"workspace_daily_quota": -1},
        {"colour": "blue"},
    ],
)
def test_settings_refuse_bad_values_with_a_clear_answer(
    core: PictuneBot, changes: dict[str, Any]
) -> None:
    with pytest.raises(InvalidOption) as caught:
        core.update_settings(ADA, is_manager=True, **changes)
    assert caught.value.user_message.endswith(".")
    assert core.workspace_settings(ADA).max_duration is None


async def test_longest_piece_applies_to_composing_and_reruns(core: PictuneBot) -> None:
    reply = await core.compose(ADA, rgb_png(), duration=60)
    core.update_settings(ADA, is_manager=True, max_duration=20)
    assert core.check_options(ADA, duration=60)[2] == 20
    await core.rerun(ADA, reply.id)
    assert core.service.requests[-1][0].duration == 20  # type: ignore[attr-defined]
    settings = core.settings_text(core.workspace_settings(ADA))
    assert "Longest piece: 20 s" in settings


async def test_cancel_a_piece_on_its_way(core: PictuneBot, store: Store) -> None:
    gate = threading.Event()
    core.service.runner = gated(gate)  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="no piece being composed"):
        await core.cancel(ADA)
    started = asyncio.Event()

    async def progress(event: JobEvent) -> None:
        started.set()

    composing = asyncio.create_task(core.compose(ADA, rgb_png(), progress=progress))
    await asyncio.wait_for(started.wait(), 10)
    (gid,) = await core.in_progress(ADA)
    assert core.following(ADA) == [gid]
    assert await core.in_progress(GRACE) == []
    with pytest.raises(Forbidden, match="Only the person who asked"):
        await core.cancel(GRACE, gid)
    assert await core.cancel(ADA, gid.upper().removeprefix("PT-")) == [gid]
    assert gid in core.cancel_text([gid])
    with pytest.raises(Cancelled):
        await composing
    gate.set()
    assert await core.in_progress(ADA) == []
    assert core.following(ADA) == []
    assert store.get(gid, workspace="guild-1", user_id="ada").status == "cancelled"
    # A finished piece has nothing to cancel.
    done = await core.compose(ADA, rgb_png())
    with pytest.raises(InputError, match="not being composed"):
        await core.cancel(ADA, done.id)
    with pytest.raises(NotFound):
        await core.cancel(STRANGER, done.id)


def test_hints_lose_control_characters_before_the_history(core: PictuneBot) -> None:
    hint, _, _ = core.check_options(ADA, hint="sad \x1b[31mpiano\u202e\x00  slower")
    assert hint is not None
    assert not any(ord(c) < 32 or c == "\u202e" for c in hint)
    assert "sad" in hint and "piano" in hint and "slower" in hint


# After a restart: the job service's database is the truth -----------------------------------


def _service_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker_mode": "thread", "job_heartbeat": 0.2})


async def _abandoned(bot: PictuneBot, requester: Requester, rerun_of: str | None = None) -> str:
    """Ask ``bot`` for a piece (a rerun of ``rerun_of``, if given) and stop waiting for it
    once it is queued, as a bot process that stops does: the job stays in the service.
    Returns the piece's id."""
    queued: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def progress(event: JobEvent) -> None:
        if not queued.done():
            queued.set_result(event.generation_id)

    asking = (
        bot.compose(requester, rgb_png(), progress=progress)
        if rerun_of is None
        else bot.rerun(requester, rerun_of, progress=progress)
    )
    composing = asyncio.create_task(asking)
    gid = await asyncio.wait_for(queued, 10)
    composing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await composing
    return gid


async def _job(service: JobService, gid: str, state: str) -> JobInfo:
    """The job of piece ``gid`` once it is in ``state``."""
    for _ in range(500):
        job = await service.job_for_generation(gid)
        if job is not None and job.state == state:
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"the job of {gid} never became {state}: {job}")


async def test_a_restarted_bot_cancels_queued_pieces(settings: Settings, store: Store) -> None:
    """A whole new process (Store, job service, bot) on the same SQLite file finds the pieces
    the previous one asked for, and cancels them for their owner only."""
    svc_settings = _service_settings(settings)
    # Never started: nothing leaves the queue.
    before = PictuneBot(svc_settings, LocalJobService(svc_settings, store), store)
    first = await _abandoned(before, ADA)
    second = await _abandoned(before, ADA)
    graces = await _abandoned(before, GRACE)
    await before.close()

    again = Store.open(svc_settings, embedder=FakeEmbedder())
    service = LocalJobService(svc_settings, again)
    bot = PictuneBot(svc_settings, service, again)
    try:
        assert bot.following(ADA) == []
        assert await bot.in_progress(ADA) == [first, second]
        assert await bot.in_progress(GRACE) == [graces]
        assert await bot.in_progress(STRANGER) == []  # the same user id in another workspace
        with pytest.raises(Forbidden, match="Only the person who asked"):
            await bot.cancel(GRACE, first)
        with pytest.raises(NotFound):
            await bot.cancel(STRANGER, first)
        assert await bot.cancel(ADA, first.upper()) == [first]
        assert await bot.in_progress(ADA) == [second]
        assert await bot.cancel(ADA) == [second]  # all that is left
        for gid in (first, second):
            assert again.get(gid, workspace="guild-1", user_id="ada").status == "cancelled"
            job = await service.job_for_generation(gid)
            assert job is not None and job.state == "cancelled"
        with pytest.raises(InputError, match="no piece being composed"):
            await bot.cancel(ADA)
        with pytest.raises(InputError, match="not being composed"):
            await bot.cancel(ADA, first)
        assert await bot.in_progress(GRACE) == [graces]  # left alone
        assert again.get(graces, workspace="guild-1", user_id="grace").status == "queued"
    finally:
        await bot.close()
        again.close()


async def test_a_restarted_bot_cancels_a_running_piece(settings: Settings, store: Store) -> None:
    """The workers keep going while the bot restarts: cancelling everything from the new bot
    ends the queued piece at once and stops the running one after its current step."""
    svc_settings = _service_settings(settings)
    pipeline = RecordingPipeline()
    gate = pipeline.gate = threading.Event()
    runtime = WorkerRuntime(svc_settings, store=store, pipeline=pipeline)
    service = LocalJobService(svc_settings, store, runtime=runtime)
    await service.start()
    try:
        before = PictuneBot(svc_settings, service, store)
        running = await _abandoned(before, ADA)
        job = await _job(service, running, "running")  # held at the gate
        queued = await _abandoned(before, ADA)  # one worker: this one waits
        await before.close()

        bot = PictuneBot(svc_settings, service, store)
        assert await bot.in_progress(ADA) == [running, queued]
        with pytest.raises(Forbidden, match="Only the person who asked"):
            await bot.cancel(GRACE, running)
        assert await bot.cancel(ADA) == [running, queued]
        await _job(service, queued, "cancelled")
        flagged = await service.job_for_generation(running)
        assert flagged is not None and flagged.state == "running" and flagged.cancel_requested
        gate.set()  # its current step ends: then it stops
        with pytest.raises(Cancelled):
            await service.wait(job.job_id, timeout=30)
        view = store.get(running, workspace="guild-1", user_id="ada")
        assert view.status == "cancelled" and "piece.mp3" not in view.files
        assert await bot.in_progress(ADA) == []
        # A finished piece has nothing to cancel.
        done = await bot.compose(ADA, rgb_png())
        with pytest.raises(InputError, match="not being composed"):
            await bot.cancel(ADA, done.id)
        await bot.close()
    finally:
        gate.set()
        await service.stop()


@pytest.mark.services
async def test_a_restarted_bot_on_celery_cancels_a_queued_piece(
    settings: Settings, store: Store, redis_url: str
) -> None:
    """The same through the Celery backend, on a real Redis with no worker: the piece stays
    queued while the bot and its job service are replaced."""
    svc_settings = settings.model_copy(
        update={"queue": "celery", "redis_url": redis_url, "job_heartbeat": 0.2}
    )
    first = CeleryJobService(svc_settings, store)
    await first.start()
    try:
        before = PictuneBot(svc_settings, first, store)
        gid = await _abandoned(before, ADA)
        await before.close()
    finally:
        await first.stop()

    service = CeleryJobService(svc_settings, store)
    await service.start()  # sends the queued job's message again, as after a Redis restart
    try:
        bot = PictuneBot(svc_settings, service, store)
        assert await bot.in_progress(ADA) == [gid]
        with pytest.raises(Forbidden, match="Only the person who asked"):
            await bot.cancel(GRACE, gid)
        assert await bot.cancel(ADA) == [gid]
        assert (await _job(service, gid, "cancelled")).final
        assert store.get(gid, workspace="guild-1", user_id="ada").status == "cancelled"
        with pytest.raises(InputError, match="no piece being composed"):
            await bot.cancel(ADA)
        await bot.close()
    finally:
        await service.stop()


# After a restart: what was asked before is delivered --------------------------------------


def _lease_ran_out(store: Store) -> None:
    """Every lease on posting a piece runs out, as when its bot died a while ago."""
    with store.db.write() as session:
        session.execute(
            update(Generation)
            .where(Generation.delivery_lease_until.is_not(None))
            .values(delivery_lease_until=utcnow() - timedelta(seconds=1))
        )


async def _left_waiting(bot: PictuneBot, requester: Requester, message_id: str) -> str:
    """Ask ``bot`` for a piece whose progress shows in message ``message_id`` (what the
    adapter's ``show`` returns), then stop following it once that is recorded, as a bot
    process that stops does. Returns the piece's id."""
    seen: list[str] = []

    async def show(line: str, gid: str) -> str:
        seen.append(gid)
        return message_id

    sink = bot.progress_sink(show, interval=0)
    composing = asyncio.create_task(bot.compose(requester, rgb_png(), progress=sink))
    for _ in range(500):
        if seen and waiting_in(bot.store, seen[0]) == message_id:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the progress message was never recorded")
    composing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await composing
    return seen[0]


def _too_dark(request: ComposeRequest, progress: ProgressFn) -> Composition:
    raise ImageError("That picture is too dark to hear: try a brighter one.")


@contextlib.asynccontextmanager
async def _running_service(
    settings: Settings, store: Store, pipeline: RecordingPipeline
) -> AsyncIterator[LocalJobService]:
    runtime = WorkerRuntime(settings, store=store, pipeline=pipeline)
    service = LocalJobService(settings, store, runtime=runtime)
    await service.start()
    try:
        yield service
    finally:
        if pipeline.gate is not None:
            pipeline.gate.set()
        await service.stop()


async def test_a_restarted_bot_delivers_a_running_piece(settings: Settings, store: Store) -> None:
    """The bot stops mid-job; a new one finds the piece with the message where Ada waits,
    follows it to the end, and once it is posted nobody posts it again."""
    svc_settings = _service_settings(settings)
    pipeline = RecordingPipeline()
    gate = pipeline.gate = threading.Event()
    async with _running_service(svc_settings, store, pipeline) as service:
        before = PictuneBot(svc_settings, service, store)
        gid = await _left_waiting(before, ADA, "1111")
        await _job(service, gid, "running")  # held at the gate
        await before.close()

        bot = PictuneBot(svc_settings, service, store)
        (orphan,) = await bot.orphans("discord")
        assert (orphan.generation_id, orphan.progress_message_id, orphan.state) == (
            gid,
            "1111",
            "running",
        )
        who = orphan.requester
        assert (who.platform, who.workspace, who.user_id, who.channel, who.user_name) == (
            "discord",
            "guild-1",
            "ada",
            "c1",
            "Ada",
        )
        assert await bot.orphans("discord") == []  # claimed once
        assert await bot.orphans("slack") == []
        lines: list[str] = []

        async def show(line: str, shown: str) -> None:
            assert shown == gid
            lines.append(line)

        following = asyncio.create_task(bot.follow(orphan, bot.progress_sink(show, interval=0)))
        for _ in range(500):
            if lines:
                break
            await asyncio.sleep(0.02)
        assert bot.following(ADA) == [gid]
        gate.set()
        reply = await asyncio.wait_for(following, 30)
        assert reply.id == gid and reply.generation.status == "done"
        assert "piece.mp3" in {name for name, _ in reply.files}
        assert lines[0].startswith("🎼") and bot.following(ADA) == []
        third = PictuneBot(svc_settings, service, store)
        assert await third.orphans("discord") == []  # the adapter is posting it
        bot.link_message(reply.id, "2222")  # posted: delivered
        _lease_ran_out(store)
        assert await third.orphans("discord") == []
        await bot.close()
        await third.close()


async def test_a_piece_that_finished_while_no_bot_ran_is_delivered_once(
    settings: Settings, store: Store
) -> None:
    svc_settings = _service_settings(settings)
    pipeline = RecordingPipeline()
    gate = pipeline.gate = threading.Event()
    async with _running_service(svc_settings, store, pipeline) as service:
        before = PictuneBot(svc_settings, service, store)
        gid = await _left_waiting(before, ADA, "1111")
        await before.close()
        gate.set()  # it finishes with no bot following it
        await _job(service, gid, "done")

        bot = PictuneBot(svc_settings, service, store)
        (orphan,) = await bot.orphans("discord")
        assert orphan.state == "done" and orphan.progress_message_id == "1111"
        reply = await asyncio.wait_for(bot.follow(orphan), 10)  # at once, from the history
        assert reply.id == gid and reply.caption and reply.files
        assert reply.files[0][0] == "piece.mp3" and reply.files[0][1].exists()
        assert await bot.orphans("discord") == []
        assert bot.delivered(gid)
        _lease_ran_out(store)
        assert await PictuneBot(svc_settings, service, store).orphans("discord") == []
        await bot.close()


async def test_a_failed_orphan_raises_its_user_message(settings: Settings, store: Store) -> None:
    svc_settings = _service_settings(settings)
    pipeline = RecordingPipeline(_too_dark)
    gate = pipeline.gate = threading.Event()
    async with _running_service(svc_settings, store, pipeline) as service:
        before = PictuneBot(svc_settings, service, store)
        gid = await _left_waiting(before, GRACE, "1111")
        await before.close()
        gate.set()
        await _job(service, gid, "failed")

        bot = PictuneBot(svc_settings, service, store)
        (orphan,) = await bot.orphans("discord")
        assert orphan.state == "failed" and orphan.requester.user_id == "grace"
        with pytest.raises(JobFailed) as failed:
            await asyncio.wait_for(bot.follow(orphan), 10)
        assert failed.value.user_message == "That picture is too dark to hear: try a brighter one."
        _lease_ran_out(store)
        assert await bot.orphans("discord") == []  # the notice counts as delivered
        await bot.close()


async def test_pieces_delivered_normally_never_become_orphans(
    settings: Settings, store: Store
) -> None:
    """While a bot follows a piece it renews its lease, so a second bot process never takes
    it; once posted (or failed), nobody finds it."""
    svc_settings = _service_settings(settings)
    pipeline = RecordingPipeline()
    gate = pipeline.gate = threading.Event()
    async with _running_service(svc_settings, store, pipeline) as service:
        bot = PictuneBot(svc_settings, service, store)
        bot.delivery_lease = 2.0  # renewed every 0.67 s
        other = PictuneBot(svc_settings, service, store)
        composing = asyncio.create_task(bot.compose(ADA, rgb_png()))
        gid = (await _first_job(service, ADA)).generation_id
        await asyncio.sleep(3.0)  # past the first lease: only renewing keeps it
        assert await other.orphans("discord") == []
        gate.set()
        reply = await asyncio.wait_for(composing, 30)
        assert reply.id == gid
        assert await other.orphans("discord") == []  # the adapter is posting it
        bot.link_message(reply.id, "3333")
        pipeline.runner = _too_dark
        with pytest.raises(JobFailed, match="too dark"):
            await asyncio.wait_for(bot.compose(ADA, rgb_png(32, 24)), 30)
        _lease_ran_out(store)
        assert await other.orphans("discord") == []
        await bot.close()
        await other.close()


async def _first_job(service: JobService, requester: Requester) -> JobInfo:
    for _ in range(500):
        jobs = await service.active_jobs(requester)
        if jobs:
            return jobs[0]
        await asyncio.sleep(0.02)
    raise AssertionError("no job was queued")


async def test_bots_claiming_at_once_share_nothing_and_skip_old_pieces(
    settings: Settings, store: Store
) -> None:
    svc_settings = _service_settings(settings).model_copy(update={"user_active_limit": 10})
    before = PictuneBot(svc_settings, LocalJobService(svc_settings, store), store)  # not started
    asked = [await _left_waiting(before, ADA, f"m{n}") for n in range(7)]
    await before.close()
    with store.db.write() as session:  # the first was asked yesterday
        row = session.get(Generation, asked[0])
        assert row is not None
        row.created_at = utcnow() - timedelta(hours=25)

    service = LocalJobService(svc_settings, store)
    one, two = (PictuneBot(svc_settings, service, store) for _ in range(2))
    found = await asyncio.gather(one.orphans("discord"), two.orphans("discord"))
    ids = [o.generation_id for orphans in found for o in orphans]
    assert sorted(ids) == sorted(asked[1:])  # each once, none too old
    assert {o.progress_message_id for orphans in found for o in orphans} == {
        f"m{n}" for n in range(1, 7)
    }
    assert all(o.state == "queued" for orphans in found for o in orphans)
    await one.close()
    await two.close()


async def test_the_pieces_of_a_bot_that_died_wait_for_its_lease(
    settings: Settings, store: Store
) -> None:
    """A bot that stops gives its pieces back at once; one that dies cannot, so they are
    claimed once its lease runs out."""
    svc_settings = _service_settings(settings)
    service = LocalJobService(svc_settings, store)  # not started: the piece stays queued
    before = PictuneBot(svc_settings, service, store)
    gid = await _left_waiting(before, ADA, "1111")
    # Dying, not stopping: the lease is still held, as before it gave it back.
    assert store.hold_delivery(gid, owner=before.owner, lease_seconds=60)
    bot = PictuneBot(svc_settings, service, store)
    assert await bot.orphans("discord") == []
    _lease_ran_out(store)
    (orphan,) = await bot.orphans("discord")
    assert orphan.generation_id == gid and orphan.progress_message_id == "1111"
    await before.close()
    await bot.close()


async def test_watching_delivers_each_orphan_once(settings: Settings, store: Store) -> None:
    svc_settings = _service_settings(settings)
    pipeline = RecordingPipeline()
    gate = pipeline.gate = threading.Event()
    async with _running_service(svc_settings, store, pipeline) as service:
        before = PictuneBot(svc_settings, service, store)
        gid = await _left_waiting(before, ADA, "1111")
        await before.close()
        bot = PictuneBot(svc_settings, service, store)
        posted: list[tuple[str, str | None]] = []

        async def deliver(orphan: Orphan) -> None:
            reply = await bot.follow(orphan)
            posted.append((reply.id, orphan.progress_message_id))
            bot.link_message(reply.id, "2222")

        watching = asyncio.create_task(bot.watch_orphans("discord", deliver, every=0.05))
        gate.set()
        for _ in range(500):
            if posted:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # a few more looks find nothing more
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        assert posted == [(gid, "1111")]
        await bot.close()


async def test_a_restarted_bot_keeps_one_rerun_per_user_and_piece(
    settings: Settings, store: Store
) -> None:
    """The rule "one rerun per person and piece at a time" holds across a restart: the
    rerun asked before it is found in the database."""
    done = await PictuneBot(settings, ThreadJobService(store), store).compose(ADA, rgb_png())
    svc_settings = _service_settings(settings)
    before = PictuneBot(svc_settings, LocalJobService(svc_settings, store), store)  # no workers
    rerun = await _abandoned(before, ADA, rerun_of=done.id)
    await before.close()

    again = Store.open(svc_settings, embedder=FakeEmbedder())
    bot = PictuneBot(svc_settings, LocalJobService(svc_settings, again), again)
    try:
        assert not bot.rerun_in_progress(ADA, done.id)  # nothing in this process's memory
        # (bounded: without the rule the rerun would wait for a service that never runs it)
        with pytest.raises(LimitReached, match="already asked for a new version"):
            await asyncio.wait_for(bot.rerun(ADA, done.id), 10)
        with pytest.raises(LimitReached):
            await asyncio.wait_for(bot.rerun(ADA, done.id, variation=True), 10)
        assert await bot.in_progress(ADA) == [rerun]  # nothing more was queued
        await bot.cancel(ADA, rerun)
        # Once it has ended, Ada may ask again (queued, then left to the service).
        asking = asyncio.create_task(bot.rerun(ADA, done.id))
        for _ in range(500):
            if again_asked := await bot.in_progress(ADA):
                break
            await asyncio.sleep(0.02)
        assert len(again_asked) == 1 and again_asked[0] != rerun
        asking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asking
    finally:
        await bot.close()
        again.close()
