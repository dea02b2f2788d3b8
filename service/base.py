"""What both backends share: submitting, following, finding, cancelling and waiting on jobs.

Submitting checks the limits, keeps the image as the generation's source file and adds the
job row; the backends differ only in who runs the job (``_dispatch``) and how progress
reaches this process (the hub). Following a job reads its row first and then listens on the
hub, re-reading the row every ``poll`` seconds: queue positions change without events, and
an event lost on the way (a worker killed mid-publish, Redis restarting) is made up for.

All database work runs on a small thread pool, never on the event loop: the bots' gateway
heartbeats must keep beating while the database is busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

from engine.config import Settings
from engine.errors import (
    Busy,
    Cancelled,
    Forbidden,
    ImageTooLarge,
    InvalidOption,
    JobFailed,
    LimitReached,
    NotFound,
    too_large_message,
)
from engine.types import ComposeRequest
from service.api import JobEvent, JobInfo, JobState, Requester, Submitted
from service.intake import check_duration, check_mode
from service.limits import limits_for
from service.progress import LocalHub, final_event, same, snapshot_event
from service.prometheus import ServiceMetrics
from service.worker_runtime import payload_for
from storage.jobs import JobView
from storage.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_SECONDS = 1.0


class QueueService:
    def __init__(self, settings: Settings, store: Store, hub: LocalHub) -> None:
        self.settings = settings
        self.store = store
        self.jobs = store.jobs
        self.hub = hub
        self.metrics = ServiceMetrics()
        self.poll = min(POLL_SECONDS, max(0.05, settings.job_heartbeat))
        self._db_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pictune-db")
        self._janitor: asyncio.Task[None] | None = None
        self._started = False

    @property
    def stale_after(self) -> float:
        """A running job whose heartbeat is older than this lost its worker."""
        return 3 * self.settings.job_heartbeat

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_pool, functools.partial(fn, *args, **kwargs))

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self.hub.start()
        await self._start_backend()
        self._janitor = asyncio.create_task(self._janitor_loop(), name="pictune-janitor")

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._janitor
        await self._stop_backend()
        await self.hub.stop()
        self._db_pool.shutdown(wait=False)

    async def _start_backend(self) -> None:
        raise NotImplementedError

    async def _stop_backend(self) -> None:
        raise NotImplementedError

    async def _dispatch(self, job_ids: list[str]) -> None:
        """Make sure someone runs these queued jobs."""
        raise NotImplementedError

    async def _janitor_loop(self) -> None:
        while True:
            try:
                await self._tend()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("janitor round failed", exc_info=True)
            await asyncio.sleep(self.settings.job_heartbeat)

    async def _tend(self) -> None:
        """Every heartbeat: requeue jobs of dead workers, refresh the metrics."""
        requeued = await self.db(
            self.jobs.requeue_stale, self.stale_after, exclude_worker=self._own_worker()
        )
        if requeued:
            log.warning("requeued %d job(s) whose worker stopped: %s", len(requeued), requeued)
            await self._dispatch(requeued)
        await self.refresh_metrics()

    def _own_worker(self) -> str | None:
        return None

    async def refresh_metrics(self) -> None:
        finished = await self.db(self.jobs.finished_since, self.metrics.watermark)
        self.metrics.observe_finished(finished)
        self.metrics.set_counts(await self.db(self.jobs.counts))

    async def health(self) -> dict[str, Any]:
        """What /healthz reports; "ok" False when the database cannot be read."""
        try:
            counts = await self.db(self.jobs.counts)
        except Exception as exc:
            return {"ok": False, "database": f"unreachable: {type(exc).__name__}"}
        return {
            "ok": True,
            "database": "ok",
            "queued": counts["queued"],
            "running": counts["running"],
        }

    # ------------------------------------------------------------------ JobService

    async def submit(
        self, request: ComposeRequest, requester: Requester, parent_id: str | None = None
    ) -> Submitted:
        if not isinstance(request.image, (bytes, bytearray)) or not request.image:
            raise InvalidOption("Send an image to compose from.")
        if len(request.image) > self.settings.max_image_bytes:
            raise ImageTooLarge(too_large_message(self.settings.max_image_bytes))
        # The rules every front door applies (service/intake.py), again here: this is where
        # any caller's request passes, and a worker should never be the one to refuse it.
        request = dataclasses.replace(
            request,
            mode=check_mode(request.mode, self.settings),  # type: ignore[arg-type]
            duration=check_duration(request.duration, self.settings),
        )
        limits = await self.db(
            limits_for, self.settings, self.store, requester.platform, requester.workspace
        )
        who = {
            "platform": requester.platform,
            "workspace": requester.workspace,
            "user_id": requester.user_id,
        }
        try:
            await self.db(self.jobs.check_limits, limits, **who)
        except (LimitReached, Busy) as exc:
            self.metrics.rejected.labels("busy" if isinstance(exc, Busy) else "limit").inc()
            raise
        payload = payload_for(request)

        def add_job(session: Session, gen_id: str) -> tuple[JobView, int]:
            return self.jobs.enqueue_in(
                session,
                generation_id=gen_id,
                payload=payload,
                limits=limits,
                max_attempts=self.settings.max_attempts,
                **who,
            )

        try:
            # The piece and its job in one commit: a failure between two would leave the
            # piece queued with no job, locked out of reruns and counted against the quota.
            gen_id, added = await self.db(
                self.store.create_pending_with,
                requester,
                then=add_job,
                mode=request.mode,
                hint=request.hint,
                seed=request.seed,
                parent_id=parent_id,
                params={
                    k: v for k, v in payload.items() if k not in ("parent_abc", "parent_metrics")
                },
                source_image=bytes(request.image),
            )
        except (LimitReached, Busy) as exc:  # another submit won the race for the last slot
            self.metrics.rejected.labels("busy" if isinstance(exc, Busy) else "limit").inc()
            raise
        assert added is not None
        job, position = added
        self.metrics.submitted.inc()
        log.info("job %s queued for %s at position %d", job.id, gen_id, position)
        await self._dispatch([job.id])
        return Submitted(job_id=job.id, generation_id=gen_id, position=position)

    async def _snapshot(self, job_id: str) -> JobEvent | None:
        def read() -> tuple[JobView | None, int | None]:
            job = self.jobs.get(job_id)
            position = self.jobs.position(job_id) if job and job.state == "queued" else None
            return job, position

        job, position = await self.db(read)
        return snapshot_event(job, position) if job is not None else None

    async def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        sub = self.hub.subscribe(job_id)  # before reading the row: nothing falls in between
        try:
            last = await self._snapshot(job_id)
            if last is None:
                raise NotFound(detail=f"no job {job_id}")
            yield last
            if last.final:
                return
            while True:
                event = await sub.get(self.poll)
                if event is None or event.state == "queued":
                    event = await self._snapshot(job_id)
                if event is None or same(last, event) or _older(event, last):
                    continue
                last = event
                yield event
                if event.final:
                    return
        finally:
            sub.close()

    async def cancel(self, job_id: str, requester: Requester) -> bool:
        job = await self.db(self.jobs.get, job_id)
        if job is None:
            return False
        if (job.platform, job.workspace, job.user_id) != (
            requester.platform,
            requester.workspace,
            requester.user_id,
        ):
            raise Forbidden("Only the person who asked for that piece can cancel it.")
        if job.final:
            return False  # already over: cancelling it again is not news
        state = await self.db(self.jobs.cancel, job_id)
        if state == "cancelled":
            after = await self.db(self.jobs.get, job_id)
            if after is not None:
                self.hub.publish(final_event(after))
            return True
        return state == "running"

    async def active_jobs(self, requester: Requester) -> list[JobInfo]:
        jobs = await self.db(
            self.jobs.active_for,
            platform=requester.platform,
            workspace=requester.workspace,
            user_id=requester.user_id,
        )
        return [_info(job) for job in jobs]

    async def job_for_generation(self, generation_id: str) -> JobInfo | None:
        job = await self.db(self.jobs.for_generation, generation_id)
        return _info(job) if job is not None else None

    async def wait(self, job_id: str, timeout: float | None = None) -> str:
        async def follow() -> JobEvent:
            last: JobEvent | None = None
            async for event in self.events(job_id):
                last = event
            assert last is not None
            return last

        last = await asyncio.wait_for(follow(), timeout)
        if last.state == "done":
            return last.generation_id
        if last.state == "cancelled":
            raise Cancelled()
        raise JobFailed(last.error or JobFailed.user_message)


def _info(job: JobView) -> JobInfo:
    return JobInfo(
        job_id=job.id,
        generation_id=job.generation_id,
        state=cast(JobState, job.state),
        platform=job.platform,
        workspace=job.workspace,
        user_id=job.user_id,
        created_at=job.created_at,
        cancel_requested=job.cancel_requested,
    )


def _older(event: JobEvent, last: JobEvent) -> bool:
    """An event published before the one already shown (it was in flight during a read)."""
    if event.final or event.state != "running" or last.state != "running":
        return False
    return event.seq is not None and last.seq is not None and event.seq <= last.seq
