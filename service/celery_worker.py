"""The worker's side of a Celery task (``run_delivered_job``): claim the job row, run the
pipeline with a heartbeat, publish progress on Redis, count it in the worker's ``/metrics``.

The task itself is registered in service/celery_app.py; the bot's side of the backend is
service/celery_backend.py, which this module does not import (nor it this one).
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache

from celery import Task

from engine.config import get_settings
from engine.logging import job_context
from service.progress import RedisPublisher, final_event
from service.prometheus import worker_metrics
from service.worker_runtime import Heartbeat, process_runtime
from storage.jobs import worker_name

log = logging.getLogger(__name__)


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
