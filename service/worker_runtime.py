"""What runs inside a worker (a local worker process or thread, or a Celery worker process):
the pipeline loaded once, and the life of one job from claim to recorded outcome.

``WorkerRuntime.execute`` is the one place a job is carried out, for both backends:
load the source image, run the pipeline while reporting progress, then record the outcome.
A finished piece is stored with ``Store.complete`` (files first, idempotent) and only then
is the job closed, guarded by its claim; a failure records the user-facing reason on the job
and the generation in one transaction. A job whose claim was lost meanwhile (timed out,
taken over) records nothing.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Literal, Protocol

from engine.config import Settings, get_settings
from engine.errors import ConfigError, InternalError, JobFailed, PictuneError, StorageFault
from engine.logging import configure_logging, job_context
from engine.types import (
    ComposeRequest,
    Composition,
    PieceOptions,
    ProgressEvent,
    ProgressFn,
    to_dict,
)
from service.api import JobEvent
from service.progress import final_event, running_event
from storage.db import classify
from storage.jobs import CANCELLED_MESSAGE, TIMEOUT_MESSAGE, Claim, JobQueue
from storage.store import Store

log = logging.getLogger(__name__)

Publish = Callable[[JobEvent], None]
SEQ_PER_ATTEMPT = 1_000_000  # event numbers of a later attempt sort after an earlier one's
REQUEST_FIELDS = (
    "hint",
    "duration",
    "mode",
    "seed",
    "refine_rounds",
    "filename",
    "parent_abc",
    "parent_metrics",
    "options",
    "continues",
    "knobs",
)


class PipelineLike(Protocol):
    def run(self, request: ComposeRequest, progress: ProgressFn) -> Composition: ...


# TEST-ONLY: "module:callable" building a stand-in for the engine's Pipeline in every worker
# (thread, spawned process, Celery worker): the service tests run fake pipelines there, and an
# environment variable is what reaches a process spawned by the code under test. Read here and
# nowhere else; not a setting, never set in production (docs/ARCHITECTURE.md).
TEST_PIPELINE_ENV = "PICTUNE_TEST_PIPELINE"


def load_pipeline(settings: Settings) -> PipelineLike:
    """The engine's Pipeline for ``settings`` (or, in the service tests only, the stand-in
    named by ``PICTUNE_TEST_PIPELINE``)."""
    named = os.environ.get(TEST_PIPELINE_ENV)
    if not named:
        from engine.pipeline import Pipeline  # heavy: loaded by workers only

        return Pipeline(settings)
    module_name, _, attr = named.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr or "Pipeline")
    except (ImportError, AttributeError) as exc:
        raise ConfigError(detail=f"{TEST_PIPELINE_ENV}={named!r}: {exc}") from exc
    return factory(settings)


def payload_for(request: ComposeRequest) -> dict[str, Any]:
    """The request without its image (which is stored as the generation's source file)."""
    return {name: to_dict(getattr(request, name)) for name in REQUEST_FIELDS}


def request_from_payload(payload: dict[str, Any], image: bytes) -> ComposeRequest:
    known = {k: v for k, v in payload.items() if k in REQUEST_FIELDS}
    known["options"] = PieceOptions.from_dict(known.get("options"))
    return ComposeRequest(image=image, **known)


def typed(exc: BaseException) -> PictuneError | None:
    """``exc`` as one of our typed errors: ours as they are, a full or read-only disk and a
    damaged or unreachable database as their StorageFault; None for anything else."""
    if isinstance(exc, PictuneError):
        return exc
    return classify(exc)


def user_reason(exc: BaseException) -> str:
    """The one line a user sees for ``exc``: ours say it themselves (a full disk says so,
    never blaming the picture); internals do not leak."""
    known = typed(exc)
    if known is not None:
        return known.user_message
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "SoftTimeLimitExceeded":
        return TIMEOUT_MESSAGE
    return InternalError.user_message


def fault_name(exc: BaseException) -> str | None:
    """The StorageFault class name for ``exc`` (shown by /healthz); None for other errors."""
    known = typed(exc)
    return type(known).__name__ if isinstance(known, StorageFault) else None


@dataclass
class Outcome:
    state: Literal["done", "failed", "cancelled", "lost"]
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    skipped: bool = False  # the piece was already complete (a redelivered job)
    # False when the outcome could not be written (the database is full, read-only, away):
    # whoever runs the worker keeps the job and records it once it can.
    recorded: bool = True
    fault: str | None = None  # the StorageFault behind a failure, for /healthz

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class WorkerRuntime:
    """One per worker process (shared by the threads of a local thread-mode service)."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        pipeline: PipelineLike | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._pipeline = pipeline
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store.open(self.settings, semantic=self.settings.semantic_search)
            return self._store

    @property
    def jobs(self) -> JobQueue:
        return self.store.jobs

    @property
    def pipeline(self) -> PipelineLike:
        with self._lock:
            if self._pipeline is None:
                self._pipeline = load_pipeline(self.settings)
            return self._pipeline

    def warm(self) -> None:
        """Load the models now rather than during the first job. A broken configuration is
        logged here and raised again (with its user-facing message) by each job."""
        start = time.perf_counter()
        try:
            _ = self.store
            pipeline = self.pipeline
            if hasattr(pipeline, "stages"):
                _ = pipeline.stages  # the real Pipeline loads its stages lazily
        except Exception:
            log.exception("worker could not load the pipeline; jobs will fail until fixed")
            return
        log.info("worker ready in %.1f s", time.perf_counter() - start)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    # ------------------------------------------------------------------ one job

    def execute(self, claim: Claim, publish: Publish) -> Outcome:
        """Run one job; never raises. Whatever fails (the pipeline, storing the piece,
        closing the job) ends the job with a true reason, or, when even that cannot be
        written, returns an unrecorded outcome for the caller to settle later: a worker
        thread or process must outlive any one job."""
        with job_context(claim.job_id):
            try:
                return self._execute(claim, publish)
            except Exception as exc:
                return self._fail_outside_pipeline(claim, publish, exc)

    def _fail_outside_pipeline(self, claim: Claim, publish: Publish, exc: Exception) -> Outcome:
        reason, fault = user_reason(exc), fault_name(exc)
        log.error("job failed while recording its outcome: %s", fault or "bug", exc_info=True)
        try:
            self.jobs.finish(
                claim, "failed", error=reason, error_detail=f"{type(exc).__name__}: {exc}"
            )
            self._publish_final(claim, publish)
        except Exception:
            log.error("could not record the failure either; the caller keeps the job")
            return Outcome("failed", error=reason, recorded=False, fault=fault)
        return Outcome("failed", error=reason, fault=fault)

    def _execute(self, claim: Claim, publish: Publish) -> Outcome:
        jobs = self.jobs
        gen_id = claim.generation_id or ""
        log.info("job started (attempt %d)", claim.attempt)
        if gen_id and jobs.generation_status(gen_id) == "done":
            # Completed by an earlier attempt that died before closing the job.
            jobs.finish(claim, "done")
            self._publish_final(claim, publish)
            return Outcome("done", skipped=True)

        last: tuple[str, int | None] | None = None
        count = 0

        def progress(event: ProgressEvent) -> None:
            nonlocal last, count
            if event.stage == "done":
                return  # the job is done once it is recorded, not when the pipeline returns
            count += 1
            job_event = running_event(claim.job_id, gen_id, event)
            job_event.seq = claim.attempt * SEQ_PER_ATTEMPT + count
            if (event.stage, event.step) != last:
                last = (event.stage, event.step)
                try:
                    jobs.set_progress(claim, asdict(job_event))
                except Exception:
                    log.warning("could not record progress", exc_info=True)
            publish(job_event)

        composition: Composition | None = None
        error: BaseException | None = None
        try:
            image = self.store.load_source_image(gen_id)
            request = request_from_payload(claim.payload, image)
            composition = self.pipeline.run(request, progress)
        except Exception as exc:  # every failure becomes a user-facing reason
            error = exc
            if isinstance(exc, PictuneError) and not isinstance(exc, (ConfigError, StorageFault)):
                log.info("job failed: %s", exc)
            else:
                log.error("job failed", exc_info=True)

        status = jobs.claim_status(claim)
        if status == "lost":
            log.warning("job was taken from this worker (timeout or takeover); result dropped")
            return Outcome("lost")
        if status == "cancel":
            jobs.finish(claim, "cancelled", error=CANCELLED_MESSAGE)
            self._publish_final(claim, publish)
            return Outcome("cancelled", error=CANCELLED_MESSAGE)
        if error is not None or composition is None:
            reason = user_reason(error) if error is not None else JobFailed.user_message
            detail = f"{type(error).__name__}: {error}" if error is not None else None
            jobs.finish(claim, "failed", error=reason, error_detail=detail)
            self._publish_final(claim, publish)
            return Outcome("failed", error=reason, fault=fault_name(error) if error else None)

        self.store.complete(gen_id, composition)
        timings = dict(composition.timings)
        if not jobs.finish(claim, "done", result={"timings": timings}):
            log.warning("piece stored but the job had moved on; it stays complete")
        self._publish_final(claim, publish)
        log.info("job done in %.2f s", sum(timings.values()))
        return Outcome("done", timings=timings)

    def _publish_final(self, claim: Claim, publish: Publish) -> None:
        job = self.jobs.get(claim.job_id)
        if job is not None and job.final:
            publish(final_event(job))


class Heartbeat:
    """A thread that marks ``worker``'s running jobs alive every ``interval`` seconds."""

    def __init__(self, jobs: JobQueue, worker: str, interval: float) -> None:
        self.jobs = jobs
        self.worker = worker
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pictune-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.jobs.heartbeat(self.worker)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)


@lru_cache(maxsize=1)
def process_runtime() -> WorkerRuntime:
    """The runtime of this worker process, built from the environment's settings."""
    return WorkerRuntime(get_settings())


# ---------------------------------------------------------------------- local process mode


def child_main(settings: Settings, conn: Any) -> None:
    """Body of a local worker process: load once, then run the jobs the parent sends.

    Messages in: ("run", claim dict) | ("stop", None). Out: ("ready", None),
    ("progress", JobEvent dict), ("outcome", Outcome dict). The process exits when its
    parent goes away (so a killed service leaves no orphan finishing jobs twice).
    """
    configure_logging(settings)
    parent = os.getppid()
    _watch_parent(parent)
    runtime = WorkerRuntime(settings)
    runtime.warm()
    conn.send(("ready", None))

    def publish(event: JobEvent) -> None:
        conn.send(("progress", asdict(event)))

    while True:
        try:
            kind, body = conn.recv()
        except (EOFError, OSError):
            break
        if kind == "stop":
            break
        if kind == "run":
            outcome = runtime.execute(Claim.from_dict(body), publish)
            conn.send(("outcome", outcome.to_dict()))
    runtime.close()


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="pictune-parent-watch", daemon=True).start()
