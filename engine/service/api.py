"""What the bots see of the shared engine: submit a job, follow its progress, get its result.

Two implementations sit behind this one interface: the local backend (in-process workers,
jobs persisted in the history database) and the Celery backend (workers elsewhere, Redis).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from engine.types import ComposeRequest
from storage.views import Origin

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
FINAL_STATES: frozenset[str] = frozenset({"done", "failed", "cancelled"})


@dataclass
class Requester:
    """Who asked, where. Ids are the platform's own, opaque here."""

    platform: str  # "discord" | "slack" | "cli"
    workspace: str  # Discord guild id, Slack team id, "local"
    user_id: str
    channel: str | None = None
    user_name: str | None = None
    visibility: str = "public"  # "public" | "private"


def origin_of(requester: Requester) -> Origin:
    """Where a piece is recorded in the history: who asked, where."""
    return Origin(
        platform=requester.platform,
        workspace=requester.workspace,
        channel=requester.channel,
        user_id=requester.user_id,
        user_name=requester.user_name,
        visibility=requester.visibility,
    )


@dataclass
class Submitted:
    job_id: str
    generation_id: str
    position: int  # jobs ahead of this one; 0 = starts now


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

    async def cancel(self, job_id: str, requester: Requester) -> bool: ...

    async def wait(self, job_id: str, timeout: float | None = None) -> str:
        """Wait for the job to end; the generation id when done, else raises JobFailed or
        Cancelled with the user-facing reason."""
        ...
