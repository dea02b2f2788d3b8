"""The requests for pieces (service/requests.py): options and quotas, rerun rules, cancelling,
and the lease on posting a piece's outcome, which lets a restarted bot deliver what an earlier
process asked for."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from engine.config import Settings
from engine.errors import (
    Cancelled,
    Forbidden,
    ImageError,
    InputError,
    InvalidOption,
    JobFailed,
    LimitReached,
    NotFound,
)
from engine.types import ComposeRequest, Composition, PieceOptions, ProgressFn
from service.api import JobEvent, JobInfo, JobService, Requester
from service.celery_backend import CeleryJobService
from service.library import Library
from service.local import LocalJobService
from service.orphans import Orphan
from service.requests import Requests
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


def _requests(settings: Settings, service: JobService, store: Store) -> Requests:
    """What one bot process asks with: its own rerun guard, followed pieces and owner name."""
    return Requests(Library(settings, store), service)


@pytest.fixture
def requests(settings: Settings, store: Store) -> Requests:
    return _requests(settings, ThreadJobService(store), store)


async def test_options_are_checked(requests: Requests) -> None:
    with pytest.raises(InvalidOption):
        await requests.compose(ADA, rgb_png(), mode="opera")
    with pytest.raises(InvalidOption):
        await requests.compose(ADA, rgb_png(), hint="x" * 201)
    with pytest.raises(InvalidOption, match="The duration must be between"):
        requests.check_options(ADA, duration=9999)


async def test_one_rerun_per_user_and_piece(requests: Requests) -> None:
    reply = await requests.compose(ADA, rgb_png())
    first = asyncio.create_task(requests.rerun(ADA, reply.id))
    await asyncio.sleep(0)  # the first has claimed its place
    assert requests.rerun_in_progress(ADA, reply.id)
    with pytest.raises(LimitReached):
        await requests.rerun(ADA, reply.id)
    other = await requests.rerun(GRACE, reply.id)  # someone else may
    await first
    assert other.parent_id == reply.id
    assert not requests.rerun_in_progress(ADA, reply.id)


async def test_daily_quota_counts_pieces_on_their_way(requests: Requests, store: Store) -> None:
    requests.library.update_settings(ADA, is_manager=True, user_daily_quota=2)
    await requests.compose(ADA, rgb_png())
    # A piece still queued counts too: asking twice at once does not slip past the limit.
    origin = Requester(platform="discord", workspace="guild-1", user_id="ada")
    store.create_pending(origin, image_sha256="ab" * 32, mode="symbolic")
    with pytest.raises(LimitReached, match="2 pieces today, this server's daily limit"):
        await requests.compose(ADA, rgb_png())
    # Deleting a piece does not give its place back.
    for view in requests.library.history(ADA, user_id="ada"):
        requests.library.delete(ADA, view.id)
    with pytest.raises(LimitReached):
        await requests.compose(ADA, rgb_png())


async def test_longest_piece_applies_to_composing_and_reruns(requests: Requests) -> None:
    reply = await requests.compose(ADA, rgb_png(), duration=60)
    requests.library.update_settings(ADA, is_manager=True, max_duration=20)
    low = requests.settings.min_duration
    with pytest.raises(InvalidOption, match=f"between {low:g} and 20 seconds"):
        requests.check_options(ADA, duration=60)
    with pytest.raises(InvalidOption, match=f"between {low:g} and 20 seconds"):
        await requests.compose(ADA, rgb_png(), duration=60)
    assert requests.check_options(ADA, duration=20)[2] == 20
    # A rerun of the 60 s piece is fitted to the new limit: nobody typed its duration.
    await requests.rerun(ADA, reply.id)
    assert requests.service.requests[-1][0].duration == 20  # type: ignore[attr-defined]


async def test_cancel_a_piece_on_its_way(requests: Requests, store: Store) -> None:
    gate = threading.Event()
    requests.service.runner = gated(gate)  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="no piece being composed"):
        await requests.cancel(ADA)
    started = asyncio.Event()

    async def progress(event: JobEvent) -> None:
        started.set()

    composing = asyncio.create_task(requests.compose(ADA, rgb_png(), progress=progress))
    await asyncio.wait_for(started.wait(), 10)
    (gid,) = await requests.in_progress(ADA)
    assert requests.following(ADA) == [gid]
    assert await requests.in_progress(GRACE) == []
    with pytest.raises(Forbidden, match="Only the person who asked"):
        await requests.cancel(GRACE, gid)
    assert await requests.cancel(ADA, gid.upper().removeprefix("PT-")) == [gid]
    with pytest.raises(Cancelled):
        await composing
    gate.set()
    assert await requests.in_progress(ADA) == []
    assert requests.following(ADA) == []
    assert store.get(gid, workspace="guild-1", user_id="ada").status == "cancelled"
    # A finished piece has nothing to cancel.
    done = await requests.compose(ADA, rgb_png())
    with pytest.raises(InputError, match="not being composed"):
        await requests.cancel(ADA, done.id)
    with pytest.raises(NotFound):
        await requests.cancel(STRANGER, done.id)


def test_hints_lose_control_characters_before_the_history(requests: Requests) -> None:
    hint, _, _ = requests.check_options(ADA, hint="sad \x1b[31mpiano\u202e\x00  slower")
    assert hint is not None
    assert not any(ord(c) < 32 or c == "\u202e" for c in hint)
    assert "sad" in hint and "piano" in hint and "slower" in hint


# After a restart: the job service's database is the truth -----------------------------------


def _service_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"worker_mode": "thread", "job_heartbeat": 0.2})


async def _abandoned(bot: Requests, requester: Requester, rerun_of: str | None = None) -> str:
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
    before = _requests(svc_settings, LocalJobService(svc_settings, store), store)
    first = await _abandoned(before, ADA)
    second = await _abandoned(before, ADA)
    graces = await _abandoned(before, GRACE)

    again = Store.open(svc_settings, embedder=FakeEmbedder())
    service = LocalJobService(svc_settings, again)
    bot = _requests(svc_settings, service, again)
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
        before = _requests(svc_settings, service, store)
        running = await _abandoned(before, ADA)
        job = await _job(service, running, "running")  # held at the gate
        queued = await _abandoned(before, ADA)  # one worker: this one waits

        bot = _requests(svc_settings, service, store)
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
        before = _requests(svc_settings, first, store)
        gid = await _abandoned(before, ADA)
    finally:
        await first.stop()

    service = CeleryJobService(svc_settings, store)
    await service.start()  # sends the queued job's message again, as after a Redis restart
    try:
        bot = _requests(svc_settings, service, store)
        assert await bot.in_progress(ADA) == [gid]
        with pytest.raises(Forbidden, match="Only the person who asked"):
            await bot.cancel(GRACE, gid)
        assert await bot.cancel(ADA) == [gid]
        assert (await _job(service, gid, "cancelled")).final
        assert store.get(gid, workspace="guild-1", user_id="ada").status == "cancelled"
        with pytest.raises(InputError, match="no piece being composed"):
            await bot.cancel(ADA)
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


async def _left_waiting(bot: Requests, requester: Requester, message_id: str) -> str:
    """Ask ``bot`` for a piece whose progress shows in message ``message_id`` (what the
    adapter's progress message is), then stop following it once that is recorded, as a bot
    process that stops does. Returns the piece's id."""
    seen: list[str] = []

    async def sink(event: JobEvent) -> None:  # as the adapter's progress message does
        seen.append(event.generation_id)
        await bot.record_progress_message(event.generation_id, message_id)

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
        before = _requests(svc_settings, service, store)
        gid = await _left_waiting(before, ADA, "1111")
        await _job(service, gid, "running")  # held at the gate

        bot = _requests(svc_settings, service, store)
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
        lines: list[JobEvent] = []

        async def show(event: JobEvent) -> None:
            assert event.generation_id == gid
            lines.append(event)

        following = asyncio.create_task(bot.follow(orphan, show))
        for _ in range(500):
            if lines:
                break
            await asyncio.sleep(0.02)
        assert bot.following(ADA) == [gid]
        gate.set()
        reply = await asyncio.wait_for(following, 30)
        assert reply.id == gid and reply.status == "done"
        assert "piece.mp3" in reply.files
        assert lines[0].state == "running" and bot.following(ADA) == []
        third = _requests(svc_settings, service, store)
        assert await third.orphans("discord") == []  # the adapter is posting it
        bot.library.link_message(reply.id, "2222")  # posted: delivered
        _lease_ran_out(store)
        assert await third.orphans("discord") == []


async def test_a_piece_that_finished_while_no_bot_ran_is_delivered_once(
    settings: Settings, store: Store
) -> None:
    svc_settings = _service_settings(settings)
    pipeline = RecordingPipeline()
    gate = pipeline.gate = threading.Event()
    async with _running_service(svc_settings, store, pipeline) as service:
        before = _requests(svc_settings, service, store)
        gid = await _left_waiting(before, ADA, "1111")
        gate.set()  # it finishes with no bot following it
        await _job(service, gid, "done")

        bot = _requests(svc_settings, service, store)
        (orphan,) = await bot.orphans("discord")
        assert orphan.state == "done" and orphan.progress_message_id == "1111"
        reply = await asyncio.wait_for(bot.follow(orphan), 10)  # at once, from the history
        assert reply.id == gid and reply.caption
        assert reply.files["piece.mp3"].exists()
        assert await bot.orphans("discord") == []
        assert bot.library.delivered(gid)
        _lease_ran_out(store)
        assert await _requests(svc_settings, service, store).orphans("discord") == []


async def test_a_failed_orphan_raises_its_user_message(settings: Settings, store: Store) -> None:
    svc_settings = _service_settings(settings)
    pipeline = RecordingPipeline(_too_dark)
    gate = pipeline.gate = threading.Event()
    async with _running_service(svc_settings, store, pipeline) as service:
        before = _requests(svc_settings, service, store)
        gid = await _left_waiting(before, GRACE, "1111")
        gate.set()
        await _job(service, gid, "failed")

        bot = _requests(svc_settings, service, store)
        (orphan,) = await bot.orphans("discord")
        assert orphan.state == "failed" and orphan.requester.user_id == "grace"
        with pytest.raises(JobFailed) as failed:
            await asyncio.wait_for(bot.follow(orphan), 10)
        assert failed.value.user_message == "That picture is too dark to hear: try a brighter one."
        _lease_ran_out(store)
        assert await bot.orphans("discord") == []  # the notice counts as delivered


async def test_pieces_delivered_normally_never_become_orphans(
    settings: Settings, store: Store
) -> None:
    """While a bot follows a piece it renews its lease, so a second bot process never takes
    it; once posted (or failed), nobody finds it."""
    svc_settings = _service_settings(settings)
    pipeline = RecordingPipeline()
    gate = pipeline.gate = threading.Event()
    async with _running_service(svc_settings, store, pipeline) as service:
        bot = _requests(svc_settings, service, store)
        bot.delivery_lease = 2.0  # renewed every 0.67 s
        other = _requests(svc_settings, service, store)
        composing = asyncio.create_task(bot.compose(ADA, rgb_png()))
        gid = (await _first_job(service, ADA)).generation_id
        await asyncio.sleep(3.0)  # past the first lease: only renewing keeps it
        assert await other.orphans("discord") == []
        gate.set()
        reply = await asyncio.wait_for(composing, 30)
        assert reply.id == gid
        assert await other.orphans("discord") == []  # the adapter is posting it
        bot.library.link_message(reply.id, "3333")
        pipeline.runner = _too_dark
        with pytest.raises(JobFailed, match="too dark"):
            await asyncio.wait_for(bot.compose(ADA, rgb_png(32, 24)), 30)
        _lease_ran_out(store)
        assert await other.orphans("discord") == []


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
    before = _requests(svc_settings, LocalJobService(svc_settings, store), store)  # not started
    asked = [await _left_waiting(before, ADA, f"m{n}") for n in range(7)]
    with store.db.write() as session:  # the first was asked yesterday
        row = session.get(Generation, asked[0])
        assert row is not None
        row.created_at = utcnow() - timedelta(hours=25)

    service = LocalJobService(svc_settings, store)
    one, two = (_requests(svc_settings, service, store) for _ in range(2))
    found = await asyncio.gather(one.orphans("discord"), two.orphans("discord"))
    ids = [o.generation_id for orphans in found for o in orphans]
    assert sorted(ids) == sorted(asked[1:])  # each once, none too old
    assert {o.progress_message_id for orphans in found for o in orphans} == {
        f"m{n}" for n in range(1, 7)
    }
    assert all(o.state == "queued" for orphans in found for o in orphans)


async def test_the_pieces_of_a_bot_that_died_wait_for_its_lease(
    settings: Settings, store: Store
) -> None:
    """A bot that stops gives its pieces back at once; one that dies cannot, so they are
    claimed once its lease runs out."""
    svc_settings = _service_settings(settings)
    service = LocalJobService(svc_settings, store)  # not started: the piece stays queued
    before = _requests(svc_settings, service, store)
    gid = await _left_waiting(before, ADA, "1111")
    # Dying, not stopping: the lease is still held, as before it gave it back.
    assert store.deliveries.hold(gid, owner=before.owner, lease_seconds=60)
    bot = _requests(svc_settings, service, store)
    assert await bot.orphans("discord") == []
    _lease_ran_out(store)
    (orphan,) = await bot.orphans("discord")
    assert orphan.generation_id == gid and orphan.progress_message_id == "1111"


async def test_watching_delivers_each_orphan_once(settings: Settings, store: Store) -> None:
    svc_settings = _service_settings(settings)
    pipeline = RecordingPipeline()
    gate = pipeline.gate = threading.Event()
    async with _running_service(svc_settings, store, pipeline) as service:
        before = _requests(svc_settings, service, store)
        gid = await _left_waiting(before, ADA, "1111")
        bot = _requests(svc_settings, service, store)
        posted: list[tuple[str, str | None]] = []

        async def deliver(orphan: Orphan) -> None:
            reply = await bot.follow(orphan)
            posted.append((reply.id, orphan.progress_message_id))
            bot.library.link_message(reply.id, "2222")

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


async def test_a_restarted_bot_keeps_one_rerun_per_user_and_piece(
    settings: Settings, store: Store
) -> None:
    """The rule "one rerun per person and piece at a time" holds across a restart: the
    rerun asked before it is found in the database."""
    done = await _requests(settings, ThreadJobService(store), store).compose(ADA, rgb_png())
    svc_settings = _service_settings(settings)
    before = _requests(svc_settings, LocalJobService(svc_settings, store), store)  # no workers
    rerun = await _abandoned(before, ADA, rerun_of=done.id)

    again = Store.open(svc_settings, embedder=FakeEmbedder())
    bot = _requests(svc_settings, LocalJobService(svc_settings, again), again)
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
        again.close()


async def test_a_person_s_daily_limit_holds_across_servers_and_dms(
    settings: Settings, store: Store
) -> None:
    """Beside each server's quota, PICTUNE_USER_DAILY_LIMIT counts one person's pieces in
    every server and DM of a platform: a DM (``dm-<user>``, with no quota of its own) or
    another server does not slip past it; another person and another platform are apart."""
    capped = settings.model_copy(update={"user_daily_limit": 2})
    requests = _requests(capped, ThreadJobService(store), store)
    dm = Requester("discord", "dm-ada", "ada", channel="d1", user_name="Ada")
    other_guild = Requester("discord", "guild-2", "ada", channel="c2", user_name="Ada")
    await requests.compose(ADA, rgb_png())
    await requests.compose(dm, rgb_png())
    for place in (ADA, dm, other_guild):
        with pytest.raises(LimitReached, match="2 pieces today, as many as Pictune makes"):
            await requests.compose(place, rgb_png())
    await requests.compose(GRACE, rgb_png())  # someone else
    await requests.compose(STRANGER, rgb_png())  # "ada" on Slack is another person


async def test_extend_continues_the_piece_up_to_the_longest_allowed(requests: Requests) -> None:
    settings = requests.settings
    parent = await requests.compose(ADA, rgb_png(), duration=30)
    child = await requests.extend(ADA, parent.id)
    request = requests.service.requests[-1][0]  # type: ignore[attr-defined]
    assert child.parent_id == parent.id
    assert request.duration == min(30 + settings.duration, settings.max_duration)
    assert request.continues == [30.0] and request.refine_rounds == 0
    # The round that made the piece: its seed (seed + round) and its settings.
    assert request.seed == parent.seed + 1  # make_composition's best round is round 1
    assert request.image == requests.store.load_source_image(parent.id)
    # Extending the extension keeps the whole chain of openings.
    await requests.extend(ADA, child.id)
    assert requests.service.requests[-1][0].continues == [30.0, request.duration]  # type: ignore[attr-defined]
    # A piece already the longest allowed here cannot go on.
    requests.library.update_settings(ADA, is_manager=True, max_duration=30)
    with pytest.raises(InvalidOption, match="already 30 seconds long"):
        await requests.extend(ADA, parent.id)


async def test_remix_keeps_the_picture_and_seed_and_takes_the_new_wishes(
    requests: Requests,
) -> None:
    parent = await requests.compose(
        ADA, rgb_png(), hint="sad", options=PieceOptions(style="jazz", tempo=100)
    )
    first = requests.service.requests[-1][0]  # type: ignore[attr-defined]
    assert first.options == PieceOptions(style="jazz", tempo=100)
    await requests.remix(ADA, parent.id, hint="as a lullaby", options=PieceOptions(tempo=60))
    remix = requests.service.requests[-1][0]  # type: ignore[attr-defined]
    assert (remix.hint, remix.options, remix.seed) == (
        "as a lullaby",
        PieceOptions(tempo=60),
        parent.seed,
    )
    assert remix.image == first.image
    with pytest.raises(InvalidOption):
        await requests.remix(ADA, parent.id, hint="x" * 201)


async def test_personal_defaults_apply_and_the_workspace_still_bounds_them(
    requests: Requests,
) -> None:
    library = requests.library
    library.update_my_defaults(ADA, duration=45, mode="symbolic", private="on", style="jazz")
    view = await requests.compose(ADA, rgb_png())
    request = requests.service.requests[-1][0]  # type: ignore[attr-defined]
    assert (request.duration, request.mode) == (45, "symbolic")
    assert request.options == PieceOptions(style="jazz")
    assert view.visibility == "private"
    # What the request says wins over the defaults.
    view = await requests.compose(
        ADA, rgb_png(), duration=20, private=False, options=PieceOptions(style="rock")
    )
    request = requests.service.requests[-1][0]  # type: ignore[attr-defined]
    assert request.duration == 20 and request.options == PieceOptions(style="rock")
    assert view.visibility == "public"
    # Grace's pieces are hers: Ada's defaults do not touch them.
    await requests.compose(GRACE, rgb_png())
    assert requests.service.requests[-1][0].options is None  # type: ignore[attr-defined]
    # A workspace that lowers its longest piece bounds a default set before.
    library.update_settings(ADA, is_manager=True, max_duration=30)
    await requests.compose(ADA, rgb_png())
    assert requests.service.requests[-1][0].duration == 30  # type: ignore[attr-defined]
    with pytest.raises(InvalidOption, match="between"):
        library.update_my_defaults(ADA, duration=60)  # refused when set beyond it
    with pytest.raises(InvalidOption, match="Unknown style"):
        library.update_my_defaults(ADA, style="polka")
    with pytest.raises(InvalidOption, match="on or off"):
        library.update_my_defaults(ADA, private="maybe")
    cleared = library.update_my_defaults(ADA, duration="", mode="", private="", style="")
    assert (cleared.duration, cleared.mode, cleared.private, cleared.style) == (None,) * 4
