"""The Celery backend: the bot's side (``CeleryJobService``) and the worker's side of a task
(``run_delivered_job``).

The bot writes the job row and sends a message naming it; a worker claims the row, runs the
pipeline, stores the piece through the shared database and artifact directory, and publishes
progress on Redis (``pictune:job:<id>``) while writing the latest step into the row, and
counts what it ran in its own ``/metrics`` (``service.metrics.WorkerMetrics``). The
bot's janitor re-sends jobs whose worker stopped beating, so a job survives a killed worker
even when its message is stuck unacknowledged in Redis.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from typing import Any

from celery import Task

from engine.config import Settings, get_settings
from engine.logging import job_context
from service.base import QueueService
from service.celery_app import TASK_NAME, make_celery
from service.metrics import worker_metrics
from service.progress import RedisHub, RedisPublisher, final_event
from service.worker_runtime import Heartbeat, process_runtime
from storage.jobs import worker_name
from storage.store import Store

log = logging.getLogger(__name__)


class CeleryJobService(QueueService):
    def __init__(self, settings: Settings, store: Store) -> None:
        super().__init__(settings, store, RedisHub(settings.redis_url))
        self.app = make_celery(settings)

    async def _start_backend(self) -> None:
        # Messages may have been lost with a Redis restart: queued jobs are sent again
        # (a duplicate is harmless, the job row decides).
        queued = await self.db(self.jobs.queued_ids)
        if queued:
            await self._dispatch(queued)

    async def _stop_backend(self) -> None:
        pass

    async def _dispatch(self, job_ids: list[str]) -> None:
        def send() -> None:
            for job_id in job_ids:
                self.app.send_task(TASK_NAME, args=[job_id])

        await self.db(send)

    async def health(self) -> dict[str, Any]:
        out = await super().health()

        def ping() -> bool:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1)
                return True

        try:
            await self.db(ping)
            out["broker"] = "ok"
        except Exception as exc:
            out["broker"] = f"unreachable: {type(exc).__name__}"
            out["ok"] = False
        return out


@lru_cache(maxsize=1)
def _worker_id() -> str:
    return worker_name("celery")


@lru_cache(maxsize=1)
def _publisher(redis_url: str) -> RedisPublisher:
    return RedisPublisher(redis_url)


def run_delivered_job(task: Task, job_id: str) -> str:
    """Carry out one delivered message. Returns what happened (for Celery's logs)."""
    settings = get_settings()
    runtime = process_runtime()
    publisher = _publisher(settings.redis_url)
    stale_after = 3 * settings.job_heartbeat
    metrics = worker_metrics()
    with job_context(job_id):
        result = runtime.jobs.claim(job_id, _worker_id(), stale_after=stale_after)
        metrics.deliveries.labels(result.status).inc()
        if result.status == "busy":
            # Another live worker holds it (a duplicate message): look again once its
            # heartbeat would have gone stale, in case that worker dies.
            log.info(
                "job held by %s; checking again later", result.job.worker if result.job else "?"
            )
            raise task.retry(countdown=stale_after)
        if result.status != "claimed" or result.claim is None:
            log.info("nothing to run: %s", result.status)
            if result.job is not None and result.job.final:
                publisher.publish(final_event(result.job))
            return result.status
        start = time.perf_counter()
        metrics.busy.set(1)
        try:
            with Heartbeat(runtime.jobs, _worker_id(), settings.job_heartbeat):
                outcome = runtime.execute(result.claim, publisher.publish)
        finally:
            metrics.busy.set(0)
        label = "skipped" if outcome.skipped else outcome.state
        metrics.observe_job(label, time.perf_counter() - start, outcome.timings)
        return outcome.state
