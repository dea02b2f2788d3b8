"""The embedded backend with the fake pipeline: progress, limits, failures, cancel, timeouts,
and worker processes that die."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from engine.config import Settings
from engine.errors import Busy, Cancelled, Forbidden, JobFailed, LimitReached, ModelOutputError
from engine.types import ComposeRequest
from service.api import JobEvent, Requester
from service.local import LocalJobService
from storage.jobs import CRASHED_MESSAGE, TIMEOUT_MESSAGE
from storage.store import Store
from tests.service.fakes import SECRET_DETAIL, png_with

pytestmark = pytest.mark.timeout(120)

ALICE = Requester("discord", "g1", "alice")
BOB = Requester("discord", "g1", "bob")


def req(tag: str, hint: str | None = None) -> ComposeRequest:
    return ComposeRequest(image=png_with(tag), hint=hint)


@pytest.fixture
async def service(svc_settings: Settings, store: Store) -> AsyncIterator[LocalJobService]:
    svc = LocalJobService(svc_settings, store)
    await svc.start()
    yield svc
    await svc.stop()


async def collect(svc: LocalJobService, job_id: str) -> list[JobEvent]:
    return [e async for e in svc.events(job_id)]


async def test_progress_from_queue_to_done(service: LocalJobService, store: Store) -> None:
    first = await service.submit(req("a", hint="slow"), ALICE)
    await service.submit(req("c"), Requester("discord", "g1", "carol"))
    second = await service.submit(req("b"), BOB)
    assert second.position in (1, 2)  # the first may not have been claimed yet
    events = await collect(service, second.job_id)
    # Its place counts down (from 2 where the first was not yet claimed when the follower
    # came, as on a loaded machine), each place said in words, before it runs.
    queued = [e for e in events if e.state == "queued"]
    places = [e.position or 0 for e in queued]
    assert queued and events[: len(queued)] == queued and places[0] in (1, 2)
    assert places == sorted(set(places), reverse=True)
    for e, place in zip(queued, places, strict=True):
        assert e.message == (f"queued ({place} ahead of you)" if place else "queued: you're next")
    stages = [e.stage for e in events]
    for stage in ("perceive", "bridge", "retrieve", "compose", "refine", "audio"):
        assert stage in stages
    assert "refining (round 2 of 3)" in [e.message for e in events]
    assert events[-1].state == "done" and events[-1].final
    assert [e for e in events if e.final] == [events[-1]]
    assert await service.wait(first.job_id, timeout=30) == first.generation_id
    view = store.get(second.generation_id, workspace="g1", user_id="bob")
    assert view.status == "done" and "piece.mp3" in view.files
    assert store.load_source_image(second.generation_id) == png_with("b")


async def test_user_limit_leaves_others_alone(svc_settings: Settings, store: Store) -> None:
    settings = svc_settings.model_copy(update={"user_active_limit": 2})
    svc = LocalJobService(settings, store)
    await svc.start()
    try:
        a1 = await svc.submit(req("a1", "slow"), ALICE)
        a2 = await svc.submit(req("a2"), ALICE)
        with pytest.raises(LimitReached) as exc:
            await svc.submit(req("a3"), ALICE)
        assert "wait for one to finish" in exc.value.user_message
        b1 = await svc.submit(req("b1"), BOB)  # Bob is not held back by Alice
        assert await svc.wait(b1.job_id, timeout=30) == b1.generation_id
        await svc.wait(a1.job_id, timeout=30)
        await svc.wait(a2.job_id, timeout=30)
        a3 = await svc.submit(req("a3"), ALICE)  # her slots are free again
        assert await svc.wait(a3.job_id, timeout=30) == a3.generation_id
        # Nothing was created for the refused request.
        assert store.count(workspace="g1") == 4
    finally:
        await svc.stop()


async def test_full_queue_says_busy(svc_settings: Settings, store: Store) -> None:
    settings = svc_settings.model_copy(update={"queue_cap": 2, "user_active_limit": 0})
    svc = LocalJobService(settings, store)  # not started: nothing leaves the queue
    await svc.submit(req("1"), ALICE)
    await svc.submit(req("2"), BOB)
    with pytest.raises(Busy) as exc:
        await svc.submit(req("3"), Requester("discord", "g2", "carol"))
    assert "try again in a minute" in exc.value.user_message


async def test_failures_reach_the_user_without_internals(
    service: LocalJobService, store: Store
) -> None:
    bad = await service.submit(req("x", "fail"), ALICE)
    boom = await service.submit(req("y", "boom"), BOB)
    with pytest.raises(JobFailed) as exc:
        await service.wait(bad.job_id, timeout=30)
    assert exc.value.user_message == ModelOutputError.user_message
    events = await collect(service, boom.job_id)
    assert events[-1].state == "failed" and events[-1].error
    assert SECRET_DETAIL not in events[-1].error and "/srv" not in events[-1].error
    view = store.get(boom.generation_id, workspace="g1", user_id="bob")
    assert view.status == "failed" and view.error == events[-1].error
    assert "piece.mp3" not in view.files  # never half-recorded


async def test_cancel_queued_and_running(service: LocalJobService, store: Store) -> None:
    running = await service.submit(req("r", "slow"), ALICE)
    queued = await service.submit(req("q"), BOB)
    with pytest.raises(Forbidden):
        await service.cancel(queued.job_id, ALICE)
    assert await service.cancel(queued.job_id, BOB)
    with pytest.raises(Cancelled):
        await service.wait(queued.job_id, timeout=10)
    for _ in range(100):  # wait until it runs
        job = service.jobs.get(running.job_id)
        if job is not None and job.state == "running":
            break
        await asyncio.sleep(0.02)
    assert await service.cancel(running.job_id, ALICE)
    with pytest.raises(Cancelled):
        await service.wait(running.job_id, timeout=30)
    for sub, who in ((queued, "bob"), (running, "alice")):
        view = store.get(sub.generation_id, workspace="g1", user_id=who)
        assert view.status == "cancelled" and "piece.mp3" not in view.files


async def test_a_new_service_finds_and_cancels_jobs_it_did_not_submit(
    svc_settings: Settings, store: Store
) -> None:
    """Jobs are rows: a service started after the one that submitted them (as after a
    restart of the bot) lists each person's unfinished jobs and finds the job of a piece."""
    settings = svc_settings.model_copy(update={"concurrency": 1})
    first = LocalJobService(settings, store)
    await first.start()
    try:
        running = await first.submit(req("r", "slow"), ALICE)  # ~1 s on the only worker
        queued = await first.submit(req("q"), ALICE)
        bobs = await first.submit(req("b"), BOB)
        # The same user id in another workspace, or on another platform, is someone else.
        alice_g2, alice_slack = (
            Requester("discord", "g2", "alice"),
            Requester("slack", "g1", "alice"),
        )
        elsewhere = await first.submit(req("e"), alice_g2)
        slack = await first.submit(req("s"), alice_slack)
        for _ in range(200):
            if (job := first.jobs.get(running.job_id)) is not None and job.state == "running":
                break
            await asyncio.sleep(0.02)
        then = LocalJobService(settings, store)  # never started: it only reads and cancels
        mine = await then.active_jobs(ALICE)
        assert [j.job_id for j in mine] == [running.job_id, queued.job_id]  # oldest first
        assert [j.generation_id for j in mine] == [running.generation_id, queued.generation_id]
        assert [j.state for j in mine] == ["running", "queued"]
        assert all(j.owned_by(ALICE) and not j.owned_by(BOB) for j in mine)
        assert [j.job_id for j in await then.active_jobs(BOB)] == [bobs.job_id]
        assert [j.job_id for j in await then.active_jobs(alice_g2)] == [elsewhere.job_id]
        assert [j.job_id for j in await then.active_jobs(alice_slack)] == [slack.job_id]

        found = await then.job_for_generation(bobs.generation_id)
        assert found is not None and found.job_id == bobs.job_id
        assert (found.platform, found.workspace, found.user_id) == ("discord", "g1", "bob")
        assert await then.job_for_generation("pt-nothing") is None

        with pytest.raises(Forbidden):
            await then.cancel(running.job_id, BOB)
        assert await then.cancel(queued.job_id, ALICE)
        assert await then.cancel(running.job_id, ALICE)
        flagged = await then.job_for_generation(running.generation_id)
        assert flagged is not None and flagged.state == "running" and flagged.cancel_requested
        with pytest.raises(Cancelled):
            await first.wait(queued.job_id, timeout=10)
        with pytest.raises(Cancelled):  # the worker stops it after its current step
            await first.wait(running.job_id, timeout=30)
        assert await then.active_jobs(ALICE) == []
        ended = await then.job_for_generation(running.generation_id)
        assert ended is not None and ended.final and ended.state == "cancelled"
        assert not await then.cancel(running.job_id, ALICE)  # nothing left to cancel
    finally:
        await first.stop()


async def test_timeout_fails_the_job_and_the_next_one_runs(
    svc_settings: Settings, store: Store
) -> None:
    settings = svc_settings.model_copy(update={"job_timeout": 0.3})
    svc = LocalJobService(settings, store)
    await svc.start()
    try:
        slow = await svc.submit(req("s", "slow"), ALICE)  # ~1 s of work
        quick = await svc.submit(req("q"), BOB)
        with pytest.raises(JobFailed) as exc:
            await svc.wait(slow.job_id, timeout=30)
        assert exc.value.user_message == TIMEOUT_MESSAGE
        assert await svc.wait(quick.job_id, timeout=30) == quick.generation_id
        await asyncio.sleep(1.2)  # the abandoned thread ends: its result must be dropped
        view = store.get(slow.generation_id, workspace="g1", user_id="alice")
        assert view.status == "failed" and view.error == TIMEOUT_MESSAGE
    finally:
        await svc.stop()


@pytest.mark.slow
async def test_worker_processes_survive_crashing_and_hanging_jobs(
    svc_settings: Settings, store: Store
) -> None:
    """A job that kills its worker process three times fails with a clear message; a hung
    job is stopped at the timeout; the others finish; the service lives on."""
    settings = svc_settings.model_copy(
        update={"worker_mode": "process", "job_timeout": 3.0, "concurrency": 1}
    )
    svc = LocalJobService(settings, store)
    await svc.start()
    try:
        crash = await svc.submit(req("c", "crash"), ALICE)
        hang = await svc.submit(req("h", "hang"), Requester("discord", "g1", "carol"))
        fine = await svc.submit(req("f"), BOB)
        with pytest.raises(JobFailed) as exc:
            await svc.wait(crash.job_id, timeout=90)
        assert exc.value.user_message == CRASHED_MESSAGE.format(n=3)
        job = svc.jobs.get(crash.job_id)
        assert job is not None and job.attempts == 3
        with pytest.raises(JobFailed) as exc:
            await svc.wait(hang.job_id, timeout=60)
        assert exc.value.user_message == TIMEOUT_MESSAGE
        assert await svc.wait(fine.job_id, timeout=60) == fine.generation_id
        health = await svc.health()
        assert health["ok"] and health["workers"]["mode"] == "process"
    finally:
        await svc.stop()


async def test_stop_returns_when_a_slot_misses_its_cancellation(
    svc_settings: Settings, store: Store
) -> None:
    """Python 3.11's asyncio.wait_for swallows a cancellation that arrives in the same
    moment as the result it waits for (a job's outcome landing as the service stops); the
    slot must still stop instead of running on and hanging stop() forever."""
    svc = LocalJobService(svc_settings, store)
    await svc.start()
    [executor] = svc._executors
    run = executor.run
    waiting = asyncio.Event()

    async def run_missing_the_cancel(claim, timeout):  # type: ignore[no-untyped-def]
        waiting.set()
        with contextlib.suppress(asyncio.CancelledError):  # what wait_for does in that race
            await asyncio.sleep(60)
        return await run(claim, timeout)

    executor.run = run_missing_the_cancel  # type: ignore[method-assign]
    sub = await svc.submit(req("late"), ALICE)
    await asyncio.wait_for(waiting.wait(), 10)
    stopping = asyncio.create_task(svc.stop())
    done, _ = await asyncio.wait({stopping}, timeout=20)  # a bound on a hang, not a speed
    assert stopping in done, "stop() hangs: the slot ran on after its cancellation"
    job = svc.jobs.get(sub.job_id)
    assert job is not None and job.state == "done"  # the job in hand was finished, then it stopped
