"""A worker process's own /metrics over real HTTP on loopback (the bot's /metrics is in
test_http.py; a real Celery worker's is scraped in test_celery_real_pipeline.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from service.prometheus import WorkerMetrics, serve_worker_metrics
from tests.servers import free_port


@pytest.fixture
def metrics() -> Iterator[WorkerMetrics]:
    m = WorkerMetrics()
    yield m
    m.stop_serving()


def test_served_on_base_port_plus_pool_index(metrics: WorkerMetrics) -> None:
    port = free_port()
    assert serve_worker_metrics(metrics, port - 2, index=2, host="127.0.0.1") == port
    assert serve_worker_metrics(metrics, port - 2, index=2, host="127.0.0.1") == port  # once
    metrics.deliveries.labels("claimed").inc()
    metrics.deliveries.labels("final").inc()
    metrics.observe_job("done", 2.5, {"compose": 1.5, "audio": 0.5, "bogus": "x"})  # type: ignore[dict-item]
    metrics.observe_job("failed", 0.2, {})
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'pictune_worker_deliveries_total{status="claimed"} 1.0' in text
    assert 'pictune_worker_deliveries_total{status="final"} 1.0' in text
    assert 'pictune_worker_jobs_total{outcome="done"} 1.0' in text
    assert 'pictune_worker_jobs_total{outcome="failed"} 1.0' in text
    assert 'pictune_worker_stage_seconds_sum{stage="compose"} 1.5' in text
    assert 'pictune_worker_stage_seconds_count{stage="audio"} 1.0' in text
    assert 'stage="bogus"' not in text
    assert 'pictune_worker_job_seconds_sum{outcome="done"} 2.5' in text
    assert "pictune_worker_busy 0.0" in text
    assert "pictune_jobs_submitted" not in text  # the bot's metrics live in the bot


def test_port_zero_disables(metrics: WorkerMetrics) -> None:
    assert serve_worker_metrics(metrics, 0) is None
    assert metrics.server is None


def test_a_taken_port_costs_the_metrics_not_the_worker(
    metrics: WorkerMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve_worker_metrics(metrics, port, host="127.0.0.1") is None
    assert metrics.port is None
    assert "PICTUNE_HTTP_PORT" in caplog.text
