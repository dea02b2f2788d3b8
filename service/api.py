"""What the bots see of the shared engine: submit a job, follow its progress, get its result.

Two implementations sit behind this one interface: the local backend (in-process workers,
jobs persisted in the history database) and the Celery backend (workers elsewhere, Redis).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from engine.types import ComposeRequest
from storage.views import Requester

__all__ = [
    "FINAL_STATES",
    "JobEvent",
    "JobInfo",
    "JobService",
    "JobState",
    "Requester",
    "Submitted",
]

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
FINAL_STATES: frozenset[str] = frozenset({"done", "failed", "cancelled"})


@dataclass
class Submitted:
    job_id: str
    generation_id: str
    position: int  # jobs ahead of this one; 0 = starts now


@dataclass
class JobInfo:
    """A job as the database knows it: which piece, whose, and how far it got. It outlives
    the process that submitted it, so a restarted bot can still find and cancel it."""

    job_id: str
    generation_id: str | None
    state: JobState
    platform: str
    workspace: str
    user_id: str
    created_at: datetime
    cancel_requested: bool = False  # running, and asked to stop after its current step

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    def owned_by(self, requester: Requester) -> bool:
        mine = (self.platform, self.workspace, self.user_id)
        return mine == (requester.platform, requester.workspace, requester.user_id)


@dataclass
class JobEvent:
    """One step of a job, in words a user can read."""

    job_id: str
    generation_id: str
    state: JobState
    stage: str  # "queued", "perceive", ..., "refine", "audio", "done", "failed"
    message: str  # "queued (2 ahead of you)", "refining (round 2 of 3)", "rendering audio"
    position: int | None = None
    step: int | None = None
    total: int | None = None
    error: str | None = None  # the user-facing reason, when failed
    seq: int | None = None  # order of a running job's events (a late copy is dropped)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class JobService(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def submit(
        self, request: ComposeRequest, requester: Requester, parent_id: str | None = None
    ) -> Submitted:
        """Queue a piece. Raises Busy (queue full) or LimitReached (user/workspace limit)."""
        ...

    def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        """Progress of a job, from its current state to a final one; then the stream ends."""
        ...

    async def cancel(self, job_id: str, requester: Requester) -> bool:
        """Cancel the requester's job: a queued one ends now, a running one after its current
        step. True when it was queued or running; False when it had already ended or does
        not exist. Raises Forbidden when the job is someone else's."""
        ...

    async def active_jobs(self, requester: Requester) -> list[JobInfo]:
        """The requester's queued and running jobs (same platform, workspace and user),
        oldest first, whichever process submitted them."""
        ...

    async def job_for_generation(self, generation_id: str) -> JobInfo | None:
        """The job that makes a generation, in any state and whoever owns it (the answer says
        who); None when it has none. Callers check the asker may see the generation."""
        ...

    async def wait(self, job_id: str, timeout: float | None = None) -> str:
        """Wait for the job to end; the generation id when done, else raises JobFailed or
        Cancelled with the user-facing reason."""
        ...
