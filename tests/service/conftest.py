"""Fixtures for the service tests: settings that run the fake pipeline, a Store. The real
redis-server (``redis_url``) comes from ``tests/servers.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import Settings
from service.worker_runtime import TEST_PIPELINE_ENV
from storage.store import Store

REPO = Path(__file__).resolve().parents[2]
FAKE_PIPELINE = "tests.service.fakes:FakePipeline"


@pytest.fixture
def svc_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Fast settings: the fake pipeline, thread workers, a short heartbeat, no HTTP port."""
    monkeypatch.setenv("PICTUNE_TEST_DELAY", "0.05")
    monkeypatch.setenv(TEST_PIPELINE_ENV, FAKE_PIPELINE)  # reaches spawned workers too
    return settings.model_copy(
        update={
            "worker_mode": "thread",
            "job_heartbeat": 0.2,
            "http_port": 0,
            "semantic_search": False,
            "concurrency": 1,
            "refine_rounds": 3,
        }
    )


@pytest.fixture
def store(svc_settings: Settings) -> Iterator[Store]:
    s = Store.open(svc_settings, semantic=False)
    yield s
    s.close()
