"""The Celery backend, the bot's side (``CeleryJobService``); the worker's side of a task is
service/celery_worker.py, run by the task in service/celery_app.py.

The bot writes the job row and sends a message naming it; a worker claims the row, runs the
pipeline, stores the piece through the shared database and artifact directory, and publishes
progress on Redis (``pictune:job:<id>``) while writing the latest step into the row, and
counts what it ran in its own ``/metrics`` (``service.prometheus.WorkerMetrics``). The
bot's janitor re-sends jobs whose worker stopped beating, so a job survives a killed worker
even when its message is stuck unacknowledged in Redis.
"""

from __future__ import annotations

from typing import Any

from engine.config import Settings
from service.base import QueueService
from service.celery_app import TASK_NAME, make_celery
from service.progress import RedisHub
from storage.store import Store


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
