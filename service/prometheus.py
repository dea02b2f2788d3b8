"""Prometheus metrics of the job service, in a registry of its own (one per service).

Latencies are observed from the database when jobs end (each finished row carries its
stage timings), so the bot process reports them the same way whether the work ran in its
own workers or on Celery workers elsewhere. Gauges (queue depth, jobs by state) are read
from the database just before each scrape.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

from storage.jobs import JobView
from storage.models import utcnow

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
SEEN_MEMORY = 2000  # finished job ids remembered, so an overlap between scans counts once


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.submitted = Counter("pictune_jobs_submitted", "Jobs accepted", registry=r)
        self.rejected = Counter(
            "pictune_jobs_rejected", "Submissions refused", ["reason"], registry=r
        )
        self.finished = Counter("pictune_jobs_finished", "Jobs ended", ["state"], registry=r)
        self.failures = Counter(
            "pictune_job_failures", "Failed jobs, by user-facing reason", ["reason"], registry=r
        )
        self.queue_depth = Gauge("pictune_queue_depth", "Jobs waiting", registry=r)
        self.jobs = Gauge("pictune_jobs", "Jobs in the database by state", ["state"], registry=r)
        self.workers = Gauge("pictune_workers_ready", "Local workers ready", registry=r)
        self.stage_seconds = Histogram(
            "pictune_stage_seconds",
            "Time per pipeline stage",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.job_seconds = Histogram(
            "pictune_job_seconds",
            "Submission to end, per job",
            ["state"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.wait_seconds = Histogram(
            "pictune_queue_wait_seconds",
            "Submission to start",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._seen: deque[str] = deque(maxlen=SEEN_MEMORY)
        self._seen_set: set[str] = set()
        self.watermark: datetime = utcnow() - timedelta(seconds=1)

    def set_counts(self, counts: dict[str, int]) -> None:
        for state, n in counts.items():
            self.jobs.labels(state).set(n)
        self.queue_depth.set(counts.get("queued", 0))

    def observe_finished(self, jobs: list[JobView]) -> None:
        for job in jobs:
            if job.id in self._seen_set:
                continue
            if len(self._seen) == self._seen.maxlen:
                self._seen_set.discard(self._seen[0])
            self._seen.append(job.id)
            self._seen_set.add(job.id)
            self.finished.labels(job.state).inc()
            if job.finished_at is not None:
                self.job_seconds.labels(job.state).observe(
                    (job.finished_at - job.created_at).total_seconds()
                )
                # Overlap scans by a second: rows committed slightly out of order still count.
                self.watermark = max(self.watermark, job.finished_at - timedelta(seconds=1))
            if job.started_at is not None:
                self.wait_seconds.observe(
                    max(0.0, (job.started_at - job.created_at).total_seconds())
                )
            if job.state == "failed":
                self.failures.labels((job.error or "unknown")[:80]).inc()
            for stage, seconds in ((job.result or {}).get("timings") or {}).items():
                if isinstance(seconds, (int, float)):
                    self.stage_seconds.labels(str(stage)).observe(float(seconds))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class WorkerMetrics:
    """What one Celery worker process did, for ``/metrics`` on that process's own port."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.deliveries = Counter(
            "pictune_worker_deliveries",
            "Task messages received, by what the job row said (claimed, busy, final, ...)",
            ["status"],
            registry=r,
        )
        self.jobs = Counter(
            "pictune_worker_jobs", "Jobs this process ran, by outcome", ["outcome"], registry=r
        )
        self.busy = Gauge("pictune_worker_busy", "1 while this process runs a job", registry=r)
        self.stage_seconds = Histogram(
            "pictune_worker_stage_seconds",
            "Time per pipeline stage in this process",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.job_seconds = Histogram(
            "pictune_worker_job_seconds",
            "Claim to recorded outcome, per job run here",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.port: int | None = None  # where serve_worker_metrics serves it
        self.server: Any = None

    def observe_job(self, outcome: str, seconds: float, timings: dict[str, float]) -> None:
        self.jobs.labels(outcome).inc()
        self.job_seconds.labels(outcome).observe(seconds)
        for stage, value in timings.items():
            if isinstance(value, (int, float)):
                self.stage_seconds.labels(str(stage)).observe(float(value))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def stop_serving(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = self.port = None


@lru_cache(maxsize=1)
def worker_metrics() -> WorkerMetrics:
    """This worker process's metrics (one registry per process)."""
    return WorkerMetrics()


def serve_worker_metrics(
    metrics: WorkerMetrics, base_port: int, index: int = 0, host: str = "0.0.0.0"
) -> int | None:
    """Serve ``metrics`` on ``base_port + index`` (index: the Celery pool process, 0 with
    one process per worker). Returns the port; None when disabled (port 0) or the port is
    taken, which costs the metrics only, never the worker."""
    if base_port <= 0:
        return None
    if metrics.port is not None:
        return metrics.port
    port = base_port + index
    try:
        metrics.server, _ = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        log.error(
            "worker metrics not served: port %d is taken (%s); give each worker its own "
            "PICTUNE_HTTP_PORT, or 0 to turn them off",
            port,
            exc.strerror or exc,
        )
        return None
    metrics.port = port
    log.info("worker metrics on port %d", port)
    return port
