"""/info: where the queue stands for the person asking — how many pieces are waiting and
being made, where theirs are and about how long they will take, what is left of today's
quota, and which backend (engine or model) each stage runs. Plain numbers; the words are
bot/core.py's."""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.backends import STAGES
from engine.config import Settings
from service.quotas import made_today
from service.requests import Requests
from storage.views import Requester

RECENT = timedelta(hours=6)  # finished pieces whose times make the estimate
RECENT_MAX = 200


@dataclass(frozen=True)
class MyPiece:
    generation_id: str
    ahead: int | None  # pieces before it in the queue; None when it is being made
    estimate_s: float | None  # about how long until it is ready; None without history


@dataclass(frozen=True)
class QueueInfo:
    queued: int
    running: int
    mine: list[MyPiece]
    typical_s: float | None  # the median time of a piece here lately, start to end
    made_today: int
    user_quota: int | None  # None: no limit
    workspace_made_today: int
    workspace_quota: int | None
    backends: list[tuple[str, str]]  # (stage, backend) as configured

    @property
    def left_today(self) -> int | None:
        """Pieces the person may still ask for today (the tighter of the two quotas)."""
        lefts = []
        if self.user_quota is not None:
            lefts.append(max(0, self.user_quota - self.made_today))
        if self.workspace_quota is not None:
            lefts.append(max(0, self.workspace_quota - self.workspace_made_today))
        return min(lefts) if lefts else None


def stage_backends(settings: Settings) -> list[tuple[str, str]]:
    """Each stage and the backend its setting names (its embedded default, or "off")."""
    return [
        (spec.stage, str(getattr(settings, spec.setting, None) or spec.embedded or "off"))
        for spec in STAGES
    ]


async def queue_info(requests: Requests, requester: Requester) -> QueueInfo:
    store, settings = requests.store, requests.settings
    jobs = await requests.service.active_jobs(requester)

    def read() -> tuple[dict[str, int], dict[str, int | None], list[float]]:
        counts = store.jobs.counts()
        ahead = {j.job_id: store.jobs.position(j.job_id) for j in jobs if j.state == "queued"}
        since = datetime.now(UTC) - RECENT
        took = [
            (j.finished_at - j.started_at).total_seconds()
            for j in store.jobs.finished_since(since, RECENT_MAX)
            if j.state == "done" and j.started_at and j.finished_at
        ]
        return counts, ahead, took

    counts, ahead, took = await asyncio.to_thread(read)
    typical = statistics.median(took) if took else None
    workers = max(1, settings.concurrency)
    mine = []
    for job in jobs:
        if not job.generation_id:
            continue
        before = ahead.get(job.job_id) if job.state == "queued" else None
        estimate = None
        if typical is not None:
            estimate = typical * (1 + (before or 0) / workers) if job.state == "queued" else typical
        mine.append(MyPiece(job.generation_id, before, estimate))
    choices = requests.library.workspace_settings(requester)
    return QueueInfo(
        queued=counts.get("queued", 0),
        running=counts.get("running", 0),
        mine=mine,
        typical_s=typical,
        made_today=made_today(requests.store, requester, requester.user_id),
        user_quota=choices.user_daily_quota,
        workspace_made_today=made_today(requests.store, requester, None),
        workspace_quota=choices.workspace_daily_quota,
        backends=stage_backends(settings),
    )
