"""The durable job queue: rows of ``storage.models.Job`` claimed, heartbeated and finished.

The database is the truth about every job; the local worker loop and the Celery tasks only
carry out what these functions decide, so a crash anywhere leaves a state the next process
can resume from:

- ``enqueue`` checks the limits and adds the row in one write transaction (no two submits
  can both slip under a limit).
- ``claim_next`` / ``claim`` move a job to ``running`` and count the attempt *before* any
  work starts; a worker killed mid-job therefore leaves a running row whose heartbeat goes
  stale, and ``requeue_stale`` puts it back (or fails it once it has killed its worker
  ``max_attempts`` times).
- ``finish`` is guarded by the claim (worker and attempt): a worker that lost its job to a
  timeout or a takeover cannot overwrite the outcome.

The generation row's status moves in the same transactions (running, back to queued,
failed, cancelled), so the history never disagrees with the queue. ``done`` is the
exception: ``Store.complete`` writes the files and flips the generation first, then
``finish`` closes the job; a crash between the two is healed by the next claim, which finds
the generation done and closes the job without running it again.

While a job runs, ``Job.result["progress"]`` holds its latest progress event (for clients
that poll the database); when it ends, ``result`` keeps the timings.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.errors import Busy, LimitReached
from storage.db import Database
from storage.models import Generation, Job, utcnow

ACTIVE_STATES = ("queued", "running")
FINAL_STATES = ("done", "failed", "cancelled")
QUEUE_LOCK_KEY = 7_368_275  # PostgreSQL advisory lock serialising enqueue's limit check

CRASHED_MESSAGE = (
    "This picture stopped the composer {n} times, so I gave up on it: "
    "try another picture, or the same one with different options."
)
TIMEOUT_MESSAGE = "Composing took too long and was stopped: try a shorter piece."
CANCELLED_MESSAGE = "That piece was cancelled."


def worker_name(prefix: str = "local") -> str:
    """A name unique to this process (and this service instance) for ``Job.worker``."""
    return f"{prefix}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:128]


@dataclass(frozen=True)
class Limits:
    """How much may be active at once; 0 or less means no limit."""

    user_active: int = 2
    workspace_active: int = 10
    queue_cap: int = 100


@dataclass
class JobView:
    id: str
    generation_id: str | None
    state: str
    attempts: int
    max_attempts: int
    worker: str | None
    platform: str
    workspace: str
    user_id: str
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None

    @property
    def progress(self) -> dict[str, Any] | None:
        return (self.result or {}).get("progress")

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class Claim:
    """The right to run one attempt of a job; ``finish`` checks it is still held."""

    job_id: str
    generation_id: str | None
    attempt: int
    worker: str
    payload: dict[str, Any] = field(default_factory=dict)
    queued_at: datetime | None = None
    started_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "generation_id": self.generation_id,
            "attempt": self.attempt,
            "worker": self.worker,
            "payload": self.payload,
            "queued_at": self.queued_at.isoformat() if self.queued_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Claim:
        d = dict(d)
        for key in ("queued_at", "started_at"):
            if d.get(key):
                d[key] = datetime.fromisoformat(d[key])
        return cls(**d)


ClaimStatus = Literal["claimed", "final", "busy", "missing", "crashed", "already_done"]


@dataclass
class ClaimResult:
    status: ClaimStatus
    claim: Claim | None = None
    job: JobView | None = None


def _view(job: Job) -> JobView:
    return JobView(
        id=job.id,
        generation_id=job.generation_id,
        state=job.state,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        worker=job.worker,
        platform=job.platform,
        workspace=job.workspace,
        user_id=job.user_id,
        payload=dict(job.payload or {}),
        result=dict(job.result) if job.result is not None else None,
        error=job.error,
        cancel_requested=bool(job.cancel_requested),
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        heartbeat_at=job.heartbeat_at,
    )


class JobQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ submitting

    def enqueue(
        self,
        *,
        generation_id: str | None,
        payload: dict[str, Any],
        platform: str,
        workspace: str,
        user_id: str,
        limits: Limits | None = None,
        max_attempts: int = 3,
        priority: int = 0,
        kind: str = "compose",
    ) -> tuple[JobView, int]:
        """Add a job; returns it and its queue position (jobs ahead of it).

        Raises ``LimitReached`` (this user or workspace has too much going on) or ``Busy``
        (the whole queue is full), checked in the same transaction as the insert.
        """
        with self.db.write() as session:
            return self.enqueue_in(
                session,
                generation_id=generation_id,
                payload=payload,
                platform=platform,
                workspace=workspace,
                user_id=user_id,
                limits=limits,
                max_attempts=max_attempts,
                priority=priority,
                kind=kind,
            )

    def enqueue_in(
        self,
        session: Session,
        *,
        generation_id: str | None,
        payload: dict[str, Any],
        platform: str,
        workspace: str,
        user_id: str,
        limits: Limits | None = None,
        max_attempts: int = 3,
        priority: int = 0,
        kind: str = "compose",
    ) -> tuple[JobView, int]:
        """``enqueue`` inside the caller's write transaction (``Store.create_pending_with``
        adds the piece and its job in one commit)."""
        if self.db.dialect == "postgresql":
            session.execute(
                select(func.pg_advisory_xact_lock(QUEUE_LOCK_KEY))
            )  # SQLite's BEGIN IMMEDIATE already serialises writers
        if limits is not None:
            check_limits(session, limits, platform=platform, workspace=workspace, user_id=user_id)
        job = Job(
            kind=kind,
            generation_id=generation_id,
            state="queued",
            priority=priority,
            attempts=0,
            max_attempts=max_attempts,
            payload=payload,
            platform=platform,
            workspace=workspace,
            user_id=user_id,
            created_at=utcnow(),
            available_at=utcnow(),
        )
        session.add(job)
        session.flush()
        return _view(job), _position(session, job)

    # ------------------------------------------------------------------ reading

    def get(self, job_id: str) -> JobView | None:
        with self.db.read() as session:
            job = session.get(Job, job_id)
            return _view(job) if job is not None else None

    def position(self, job_id: str) -> int | None:
        """Jobs ahead of a queued job (0: it is next); None when it is not queued."""
        with self.db.read() as session:
            job = session.get(Job, job_id)
            if job is None or job.state != "queued":
                return None
            return _position(session, job)

    def counts(self) -> dict[str, int]:
        """Jobs by state (every state present, zero when none)."""
        with self.db.read() as session:
            rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
        out = dict.fromkeys(("queued", "running", "done", "failed", "cancelled"), 0)
        out.update({state: int(n) for state, n in rows})
        return out

    def active_count(
        self,
        *,
        user_id: str | None = None,
        workspace: str | None = None,
        platform: str | None = None,
    ) -> int:
        with self.db.read() as session:
            return _active(session, user_id=user_id, workspace=workspace, platform=platform)

    def check_limits(self, limits: Limits, *, platform: str, workspace: str, user_id: str) -> None:
        """Raise LimitReached or Busy now, before anything is written (enqueue checks again)."""
        with self.db.read() as session:
            check_limits(session, limits, platform=platform, workspace=workspace, user_id=user_id)

    def finished_since(self, since: datetime, limit: int = 500) -> list[JobView]:
        """Jobs that ended at or after ``since``, oldest first (for metrics)."""
        with self.db.read() as session:
            rows = session.scalars(
                select(Job)
                .where(Job.state.in_(FINAL_STATES), Job.finished_at >= since)
                .order_by(Job.finished_at, Job.id)
                .limit(limit)
            ).all()
            return [_view(j) for j in rows]

    def queued_ids(self) -> list[str]:
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(Job.id).where(Job.state == "queued").order_by(*_queue_order())
                )
            )

    def active_for(self, *, platform: str, workspace: str, user_id: str) -> list[JobView]:
        """One person's queued and running jobs, oldest first. The same user id in another
        workspace or on another platform is someone else."""
        with self.db.read() as session:
            rows = session.scalars(
                select(Job)
                .where(
                    Job.state.in_(ACTIVE_STATES),
                    Job.user_id == user_id,
                    Job.workspace == workspace,
                    Job.platform == platform,
                )
                .order_by(Job.created_at, Job.id)
            ).all()
            return [_view(j) for j in rows]

    def for_generation(self, generation_id: str) -> JobView | None:
        """The job that makes a generation (the newest, should there be several); None when
        it has none."""
        with self.db.read() as session:
            job = session.scalar(
                select(Job)
                .where(Job.generation_id == generation_id)
                .order_by(Job.created_at.desc(), Job.id.desc())
                .limit(1)
            )
            return _view(job) if job is not None else None

    def generation_status(self, generation_id: str) -> str | None:
        with self.db.read() as session:
            return session.scalar(select(Generation.status).where(Generation.id == generation_id))

    # ------------------------------------------------------------------ claiming

    def claim_next(self, worker: str, *, kind: str = "compose") -> Claim | None:
        """Take the first queued job (priority, then age) for ``worker``; None if none."""
        now = utcnow()
        with self.db.write() as session:
            job = session.scalar(
                select(Job)
                .where(Job.state == "queued", Job.kind == kind, Job.available_at <= now)
                .order_by(*_queue_order())
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if job is None:
                return None
            return _take(session, job, worker, now)

    def claim(self, job_id: str, worker: str, *, stale_after: float) -> ClaimResult:
        """Take one named job (a Celery task's job), whatever delivered the message.

        - final job, or its generation already done/cancelled: ``final``/``already_done``,
          nothing to run (a redelivered message after completion);
        - running with a fresh heartbeat: ``busy`` (another worker holds it);
        - running with a stale heartbeat: its worker died; taken over, or failed with
          ``crashed`` once it used up its attempts;
        - queued: claimed.
        """
        now = utcnow()
        with self.db.write() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None:
                return ClaimResult("missing")
            if job.state in FINAL_STATES:
                return ClaimResult("final", job=_view(job))
            if job.generation_id is not None:
                gen_status = session.scalar(
                    select(Generation.status).where(Generation.id == job.generation_id)
                )
                if gen_status in ("done", "cancelled"):
                    _close(session, job, "done" if gen_status == "done" else "cancelled", now)
                    return ClaimResult("already_done", job=_view(job))
            if job.state == "running":
                beat = job.heartbeat_at or job.started_at or now
                if beat > now - timedelta(seconds=stale_after):
                    return ClaimResult("busy", job=_view(job))
                if job.attempts >= job.max_attempts:
                    _fail_crashed(session, job, now)
                    return ClaimResult("crashed", job=_view(job))
            elif job.cancel_requested:
                _close(session, job, "cancelled", now, error=CANCELLED_MESSAGE)
                return ClaimResult("final", job=_view(job))
            claim = _take(session, job, worker, now)
            return ClaimResult("claimed", claim=claim, job=_view(job))

    # ------------------------------------------------------------------ while running

    def heartbeat(self, worker: str) -> int:
        """Mark every running job of ``worker`` alive; returns how many."""
        with self.db.write() as session:
            result = session.execute(
                update(Job)
                .where(Job.state == "running", Job.worker == worker)
                .values(heartbeat_at=utcnow())
            )
            return int(result.rowcount or 0)

    def set_progress(self, claim: Claim, progress: dict[str, Any]) -> bool:
        """Record the latest progress event; False when the claim is no longer held."""
        with self.db.write() as session:
            job = _held(session, claim)
            if job is None:
                return False
            job.result = {**(job.result or {}), "progress": progress}
            job.heartbeat_at = utcnow()
            return True

    def claim_status(self, claim: Claim) -> Literal["ok", "cancel", "lost"]:
        """Whether the claim is still held, and whether the user asked to cancel."""
        with self.db.read() as session:
            job = _held(session, claim)
            if job is None:
                return "lost"
            return "cancel" if job.cancel_requested else "ok"

    # ------------------------------------------------------------------ ending

    def finish(
        self,
        claim: Claim,
        state: Literal["done", "failed", "cancelled"],
        *,
        error: str | None = None,
        error_detail: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """End the job held by ``claim``. Failed and cancelled also end the generation (with
        ``error``, the user-facing reason). False when the claim was lost meanwhile."""
        with self.db.write() as session:
            job = _held(session, claim)
            if job is None:
                return False
            if state == "done" and job.cancel_requested:
                state = "cancelled"
            _close(session, job, state, utcnow(), error=error, detail=error_detail, result=result)
            return True

    def requeue(self, claim: Claim, *, reason: str = "worker lost") -> str | None:
        """The worker running ``claim`` died: queue the job again, or fail it when it has
        used its attempts. Returns the new state, None when the claim was lost meanwhile."""
        with self.db.write() as session:
            job = _held(session, claim)
            if job is None:
                return None
            return _back_to_queue(session, job, utcnow(), reason)

    def release(self, claim: Claim) -> bool:
        """Give a job back to the queue without counting the attempt (the service is
        shutting down: not the job's fault)."""
        with self.db.write() as session:
            job = _held(session, claim)
            if job is None:
                return False
            job.attempts = max(0, job.attempts - 1)
            _back_to_queue(session, job, utcnow(), "released at shutdown")
            return True

    def requeue_stale(self, stale_after: float, *, exclude_worker: str | None = None) -> list[str]:
        """Running jobs whose worker stopped beating go back to the queue (or fail after
        ``max_attempts``). Returns the ids put back in the queue."""
        now = utcnow()
        cutoff = now - timedelta(seconds=stale_after)
        requeued: list[str] = []
        with self.db.write() as session:
            stmt = select(Job).where(Job.state == "running").with_for_update(skip_locked=True)
            for job in session.scalars(stmt).all():
                beat = job.heartbeat_at or job.started_at or job.created_at
                if beat > cutoff or (exclude_worker and job.worker == exclude_worker):
                    continue
                if _back_to_queue(session, job, now, "heartbeat stale") == "queued":
                    requeued.append(job.id)
        return requeued

    def cancel(self, job_id: str) -> str | None:
        """Cancel a queued job now; a running one is flagged and ends cancelled.
        Returns the state after the call, None when there is no such job."""
        now = utcnow()
        with self.db.write() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None:
                return None
            if job.state == "queued":
                _close(session, job, "cancelled", now, error=CANCELLED_MESSAGE)
            elif job.state == "running":
                job.cancel_requested = True
            return job.state

    def fail_now(self, job_id: str, error: str, *, detail: str | None = None) -> bool:
        """Fail a queued or running job whoever holds it (timeouts, operator action)."""
        with self.db.write() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None or job.state in FINAL_STATES:
                return False
            _close(session, job, "failed", utcnow(), error=error, detail=detail)
            return True


# ---------------------------------------------------------------------- helpers


def _queue_order() -> tuple[Any, ...]:
    return (Job.priority.desc(), Job.created_at, Job.id)


def _position(session: Session, job: Job) -> int:
    ahead = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(
            Job.state == "queued",
            Job.kind == job.kind,
            Job.id != job.id,
            (Job.priority > job.priority)
            | (
                (Job.priority == job.priority)
                & (
                    (Job.created_at < job.created_at)
                    | ((Job.created_at == job.created_at) & (Job.id < job.id))
                )
            ),
        )
    )
    return int(ahead or 0)


def _active(
    session: Session,
    *,
    user_id: str | None = None,
    workspace: str | None = None,
    platform: str | None = None,
) -> int:
    stmt = select(func.count()).select_from(Job).where(Job.state.in_(ACTIVE_STATES))
    if platform is not None:
        stmt = stmt.where(Job.platform == platform)
    if workspace is not None:
        stmt = stmt.where(Job.workspace == workspace)
    if user_id is not None:
        stmt = stmt.where(Job.user_id == user_id)
    return int(session.scalar(stmt) or 0)


def check_limits(
    session: Session, limits: Limits, *, platform: str, workspace: str, user_id: str
) -> None:
    """Raise the user-facing error for the first limit that a new job would break."""
    if limits.user_active > 0:
        mine = _active(session, platform=platform, workspace=workspace, user_id=user_id)
        if mine >= limits.user_active:
            n = limits.user_active
            raise LimitReached(
                f"You already have {n} piece{'s' if n != 1 else ''} being composed: "
                "wait for one to finish, then try again.",
                detail=f"user {platform}/{workspace}/{user_id} has {mine} active",
            )
    if limits.workspace_active > 0:
        here = _active(session, platform=platform, workspace=workspace)
        if here >= limits.workspace_active:
            raise LimitReached(
                "Many pieces are being composed here already: try again in a minute.",
                detail=f"workspace {platform}/{workspace} has {here} active",
            )
    if limits.queue_cap > 0:
        queued = int(
            session.scalar(select(func.count()).select_from(Job).where(Job.state == "queued")) or 0
        )
        if queued >= limits.queue_cap:
            raise Busy(detail=f"{queued} jobs queued, cap {limits.queue_cap}")


def _held(session: Session, claim: Claim) -> Job | None:
    job = session.get(Job, claim.job_id, with_for_update=True)
    if (
        job is None
        or job.state != "running"
        or job.worker != claim.worker
        or job.attempts != claim.attempt
    ):
        return None
    return job


def _take(session: Session, job: Job, worker: str, now: datetime) -> Claim:
    job.state = "running"
    job.attempts += 1
    job.worker = worker
    job.heartbeat_at = now
    job.started_at = job.started_at or now
    job.cancel_requested = bool(job.cancel_requested)
    if job.generation_id is not None:
        session.execute(
            update(Generation)
            .where(Generation.id == job.generation_id, Generation.status.in_(("queued", "running")))
            .values(status="running", updated_at=now)
        )
    return Claim(
        job_id=job.id,
        generation_id=job.generation_id,
        attempt=job.attempts,
        worker=worker,
        payload=dict(job.payload or {}),
        queued_at=job.created_at,
        started_at=now,
    )


def _back_to_queue(session: Session, job: Job, now: datetime, reason: str) -> str:
    if job.attempts >= job.max_attempts:
        _fail_crashed(session, job, now)
        return "failed"
    job.state = "queued"
    job.worker = None
    job.heartbeat_at = None
    job.error_detail = reason
    job.available_at = now
    if job.generation_id is not None:
        session.execute(
            update(Generation)
            .where(Generation.id == job.generation_id, Generation.status == "running")
            .values(status="queued", updated_at=now)
        )
    return "queued"


def _fail_crashed(session: Session, job: Job, now: datetime) -> None:
    _close(
        session,
        job,
        "failed",
        now,
        error=CRASHED_MESSAGE.format(n=job.attempts),
        detail=f"worker lost {job.attempts} times",
    )


def _close(
    session: Session,
    job: Job,
    state: str,
    now: datetime,
    *,
    error: str | None = None,
    detail: str | None = None,
    result: dict[str, Any] | None = None,
) -> None:
    job.state = state
    job.finished_at = now
    job.heartbeat_at = None
    if error is not None:
        job.error = error[:2000]
    if detail is not None:
        job.error_detail = detail[:4000]
    if result is not None:
        job.result = {**(job.result or {}), **result}
    if job.generation_id is None or state == "done":
        return  # a done generation was completed by Store.complete (files first)
    values: dict[str, Any] = {"status": state, "completed_at": now, "updated_at": now}
    if state == "failed":
        values["error"] = (error or "Composing failed. Please try again.")[:2000]
    session.execute(
        update(Generation)
        .where(Generation.id == job.generation_id, Generation.status.in_(("queued", "running")))
        .values(**values)
    )
