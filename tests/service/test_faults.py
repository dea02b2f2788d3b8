"""Faults injected under the embedded backend: a full disk, a database that cannot be
written, a bug outside the pipeline. Each job ends with a true message, the worker slot lives
on, /healthz says when a worker cannot make progress, and freeing the fault recovers it."""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from engine.config import Settings
from engine.errors import (
    InternalError,
    JobFailed,
    StorageFull,
    StorageReadOnly,
)
from engine.types import ComposeRequest, Composition, ProgressFn
from service.api import Requester
from service.local import LocalJobService
from service.worker_runtime import TEST_PIPELINE_ENV
from storage.artifacts import ArtifactStore
from storage.jobs import CRASHED_MESSAGE, JobQueue
from storage.store import Store
from tests.service.fakes import FakePipeline, png_with

pytestmark = pytest.mark.timeout(60)

ALICE = Requester("discord", "g1", "alice")


def req(tag: str) -> ComposeRequest:
    return ComposeRequest(image=png_with(tag))


def failing_put(errno_: int, *, sources: set[bytes]) -> Callable[..., Any]:
    """ArtifactStore.put that fails like a full (or read-only) disk for a piece's files;
    the uploaded pictures (``sources``) are still stored, as they were before the disk
    filled up."""
    real = ArtifactStore.put

    def put(self: ArtifactStore, data: bytes) -> Any:
        if data in sources:
            return real(self, data)
        raise OSError(errno_, "injected", "artifact")

    return put


@pytest.fixture
async def service(svc_settings: Settings, store: Store) -> AsyncIterator[LocalJobService]:
    svc = LocalJobService(svc_settings, store)
    await svc.start()
    yield svc
    await svc.stop()


async def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check() if asyncio.iscoroutinefunction(check) else check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition never came true"
        await asyncio.sleep(0.05)


async def failure_of(svc: LocalJobService, job_id: str) -> str:
    with pytest.raises(JobFailed) as exc:
        await svc.wait(job_id, timeout=15)
    return exc.value.user_message


async def test_disk_full_thread_mode_fails_the_job_and_the_slot_lives(
    service: LocalJobService, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        ArtifactStore, "put", failing_put(errno.ENOSPC, sources={png_with("a"), png_with("b")})
    )
    first = await service.submit(req("a"), ALICE)
    assert await failure_of(service, first.job_id) == StorageFull.user_message
    job = service.jobs.get(first.job_id)
    assert job is not None and job.attempts == 1  # not retried as a "bad picture"
    view = store.get(first.generation_id, workspace="g1", user_id="alice")
    assert view.status == "failed" and view.error == StorageFull.user_message

    async def stalled() -> bool:
        health = await service.health()
        return health["ok"] is False and health["workers"]["stalled"] == {"0": "StorageFull"}

    await until(stalled)

    # Space is freed: the same slot takes the next job, and /healthz is green again.
    monkeypatch.undo()
    second = await service.submit(req("b"), ALICE)
    assert await service.wait(second.job_id, timeout=15) == second.generation_id

    async def green() -> bool:
        # The slot clears its stall when it finishes the job's bookkeeping, which can come a
        # moment after the piece is recorded as done (seen once in CI).
        return (await service.health())["ok"] is True

    await until(green)


async def test_read_only_storage_is_named(
    service: LocalJobService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ArtifactStore, "put", failing_put(errno.EROFS, sources={png_with("r")}))
    sub = await service.submit(req("r"), ALICE)
    assert await failure_of(service, sub.job_id) == StorageReadOnly.user_message


async def test_submit_on_a_full_disk_says_so_and_keeps_nothing(
    service: LocalJobService, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ArtifactStore, "put", failing_put(errno.ENOSPC, sources=set()))
    with pytest.raises(StorageFull):
        await service.submit(req("s"), ALICE)
    assert store.count() == 0 and service.jobs.counts()["queued"] == 0


async def test_a_bug_outside_the_pipeline_fails_the_job_not_the_slot(
    service: LocalJobService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Store, gen_id: str, composition: Composition) -> None:
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(Store, "complete", broken)
    sub = await service.submit(req("x"), ALICE)
    message = await failure_of(service, sub.job_id)
    assert message == InternalError.user_message and "bug of ours" not in message
    monkeypatch.undo()
    after = await service.submit(req("y"), ALICE)
    assert await service.wait(after.job_id, timeout=15) == after.generation_id


async def test_database_unwritable_at_the_end_keeps_the_job_until_it_can_be_recorded(
    service: LocalJobService, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst case: storing the piece fails and so does writing the failure. The job
    must not stay "running" for ever: /healthz names it, and it is failed once the
    database takes writes again."""
    monkeypatch.setattr(ArtifactStore, "put", failing_put(errno.ENOSPC, sources={png_with("d")}))
    real_finish = JobQueue.finish

    def finish(self: JobQueue, claim: Any, state: str, **kw: Any) -> bool:
        if state == "failed":
            raise StorageFull(detail="injected: database or disk is full")
        return real_finish(self, claim, state, **kw)

    monkeypatch.setattr(JobQueue, "finish", finish)
    sub = await service.submit(req("d"), ALICE)

    async def unrecorded() -> bool:
        health = await service.health()
        return health["ok"] is False and sub.job_id in health["workers"]["unrecorded_jobs"]

    await until(unrecorded)
    monkeypatch.undo()  # space freed
    assert await failure_of(service, sub.job_id) == StorageFull.user_message
    await until(lambda: not service._unsettled)
    after = await service.submit(req("e"), ALICE)
    assert await service.wait(after.job_id, timeout=15) == after.generation_id
    await until(lambda: service._stalled == {})
    assert (await service.health())["ok"] is True


async def test_pending_piece_and_job_are_one_commit(
    service: LocalJobService, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def enqueue_in(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("killed between the two writes")

    monkeypatch.setattr(JobQueue, "enqueue_in", enqueue_in)
    with pytest.raises(RuntimeError):
        await service.submit(req("p"), ALICE)
    assert store.count() == 0  # no piece left queued without a job (nor counted in a quota)


# ------------------------------------------------------------------ process mode


class DiskFullPipeline(FakePipeline):
    """Composes, but the piece's files cannot be written (the disk filled up meanwhile)."""

    def run(self, request: ComposeRequest, progress: ProgressFn) -> Composition:
        composition = super().run(request, progress)

        def files() -> dict[str, bytes]:
            raise OSError(errno.ENOSPC, "No space left on device")

        composition.files = files  # type: ignore[method-assign]
        return composition


async def test_disk_full_in_a_worker_process_is_not_blamed_on_the_picture(
    svc_settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_PIPELINE_ENV, "tests.service.test_faults:DiskFullPipeline")
    settings = svc_settings.model_copy(update={"worker_mode": "process"})
    svc = LocalJobService(settings, store)
    await svc.start()
    try:
        sub = await svc.submit(req("proc"), ALICE)
        message = await failure_of(svc, sub.job_id)
        assert message == StorageFull.user_message != CRASHED_MESSAGE.format(n=3)
        job = svc.jobs.get(sub.job_id)
        assert job is not None and job.attempts == 1
        assert (await svc.health())["workers"]["ready"] == 1  # the process lived on
    finally:
        await svc.stop()
