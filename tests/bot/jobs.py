"""Pipelines and a small JobService for the bot tests.

``RecordingPipeline`` goes into the real job service (service/) where the bot's own
behaviour is what is tested: ``stub_runner`` gives a ready-made Composition after a few
progress events, no models. ``ThreadJobService`` is a minimal JobService (a thread per job,
recording through the real Store) for the unit tests of bot/core.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.errors import Cancelled, Forbidden, JobFailed, PictuneError
from engine.types import ComposeRequest, Composition, ProgressEvent, ProgressFn
from service.api import JobEvent, JobInfo, JobState, Requester, Submitted
from storage.store import Store
from tests.storage.conftest import make_composition

Runner = Callable[[ComposeRequest, ProgressFn], Composition]


def stub_runner(request: ComposeRequest, progress: ProgressFn) -> Composition:
    """A piece without the pipeline: distinct per image, seed and parent."""
    progress(ProgressEvent("perceive", "looking at the image"))
    progress(ProgressEvent("refine", "refining", 1, 2))
    progress(ProgressEvent("audio", "rendering audio"))
    # Rendering takes a moment in the real pipeline; the service keeps only the latest progress,
    # so an instant stub could finish before a busy machine's follower has seen this stage.
    time.sleep(0.2)
    salt = hashlib.sha256(request.image).hexdigest()[:8] + (request.parent_abc or "")[:4]
    made = make_composition(
        caption="a calm blue sea under a pale moon",
        seed=request.seed if request.seed is not None else 7,
        hint=request.hint,
        image_bytes=request.image,
        salt=salt,
    )
    # The brief says what was asked, as the pipeline's does.
    made.brief.duration = request.duration
    made.brief.continues = list(request.continues)
    made.brief.options = request.options
    return made


def gated(gate: threading.Event, runner: Runner = stub_runner) -> Runner:
    """``runner`` that first waits (up to 30 s) for ``gate``: a piece kept on its way."""

    def run(request: ComposeRequest, progress: ProgressFn) -> Composition:
        gate.wait(30)
        return runner(request, progress)

    return run


class RecordingPipeline:
    """A pipeline for the real job service: ``stub_runner`` by default, remembering every
    request it ran; ``gate`` (when set) holds each run until it is opened."""

    def __init__(self, runner: Runner = stub_runner) -> None:
        self.runner = runner
        self.requests: list[ComposeRequest] = []
        self.gate: threading.Event | None = None

    def run(self, request: ComposeRequest, progress: ProgressFn) -> Composition:
        self.requests.append(request)
        if self.gate is not None:
            self.gate.wait(30)
        return self.runner(request, progress)


@dataclass
class _Job:
    generation_id: str
    requester: Requester
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: asyncio.Queue[JobEvent] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    error: str | None = None
    cancelled: bool = False

    def info(self, job_id: str) -> JobInfo:
        state: JobState = "running"
        if self.cancelled:
            state = "cancelled"
        elif self.error is not None:
            state = "failed"
        elif self.task is not None and self.task.done():
            state = "done"
        who = self.requester
        return JobInfo(
            job_id,
            self.generation_id,
            state,
            who.platform,
            who.workspace,
            who.user_id,
            self.created_at,
        )


class ThreadJobService:
    def __init__(self, store: Store, runner: Runner = stub_runner) -> None:
        self.store = store
        self.runner = runner
        self.jobs: dict[str, _Job] = {}
        self.requests: list[tuple[ComposeRequest, Requester, str | None]] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for job in self.jobs.values():
            if job.task is not None and not job.task.done():
                job.task.cancel()

    async def submit(
        self, request: ComposeRequest, requester: Requester, parent_id: str | None = None
    ) -> Submitted:
        self.requests.append((request, requester, parent_id))
        generation_id = await asyncio.to_thread(
            self.store.create_pending,
            requester,
            mode=request.mode,
            hint=request.hint,
            seed=request.seed,
            parent_id=parent_id,
            params={"duration": request.duration},
            source_image=request.image,
        )
        job_id = uuid.uuid4().hex
        job = _Job(generation_id, requester)
        self.jobs[job_id] = job
        job.task = asyncio.create_task(self._run(job_id, job, request))
        return Submitted(job_id=job_id, generation_id=generation_id, position=0)

    async def _run(self, job_id: str, job: _Job, request: ComposeRequest) -> None:
        loop = asyncio.get_running_loop()

        def event(state: str, stage: str, message: str, **kw: object) -> JobEvent:
            return JobEvent(job_id, job.generation_id, state, stage, message, **kw)  # type: ignore[arg-type]

        def progress(p: ProgressEvent) -> None:
            loop.call_soon_threadsafe(
                job.events.put_nowait,
                event("running", p.stage, p.message, step=p.step, total=p.total),
            )

        await asyncio.to_thread(self.store.mark_running, job.generation_id)
        try:
            composition = await asyncio.to_thread(self.runner, request, progress)
            await asyncio.to_thread(self.store.complete, job.generation_id, composition)
        except Exception as exc:  # noqa: BLE001 - a failed job is reported, not raised
            job.error = (
                exc.user_message if isinstance(exc, PictuneError) else JobFailed.user_message
            )
            await asyncio.to_thread(self.store.fail, job.generation_id, job.error)
            job.events.put_nowait(event("failed", "failed", job.error, error=job.error))
            return
        job.events.put_nowait(event("done", "done", "done"))

    async def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        job = self.jobs[job_id]
        while True:
            item = await job.events.get()
            yield item
            if item.final:
                return

    async def cancel(self, job_id: str, requester: Requester) -> bool:
        """Stop the job's task; whoever follows it hears a final "cancelled" event."""
        job = self.jobs[job_id]
        if job.task is None or job.task.done():
            return False
        if not job.info(job_id).owned_by(requester):
            raise Forbidden("Only the person who asked for that piece can cancel it.")
        job.task.cancel()
        job.cancelled = True
        await asyncio.to_thread(self.store.cancel, job.generation_id)
        job.events.put_nowait(
            JobEvent(
                job_id,
                job.generation_id,
                "cancelled",
                "cancelled",
                "cancelled",
                error=Cancelled.user_message,
            )
        )
        return True

    async def active_jobs(self, requester: Requester) -> list[JobInfo]:
        infos = [job.info(job_id) for job_id, job in self.jobs.items()]
        return [i for i in infos if not i.final and i.owned_by(requester)]

    async def job_for_generation(self, generation_id: str) -> JobInfo | None:
        for job_id, job in self.jobs.items():
            if job.generation_id == generation_id:
                return job.info(job_id)
        return None

    async def wait(self, job_id: str, timeout: float | None = None) -> str:
        job = self.jobs[job_id]
        assert job.task is not None
        try:
            await asyncio.wait_for(asyncio.shield(job.task), timeout)
        except asyncio.CancelledError:
            raise Cancelled() from None
        if job.error is not None:
            raise JobFailed(job.error)
        return job.generation_id
