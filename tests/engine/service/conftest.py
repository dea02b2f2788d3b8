"""Fixtures for the service tests: settings that run the fake pipeline, a Store, a real
redis-server on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import Settings
from storage.store import Store

REPO = Path(__file__).resolve().parents[3]
FAKE_PIPELINE = "tests.engine.service.fakes:FakePipeline"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def svc_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Fast settings: the fake pipeline, thread workers, a short heartbeat, no HTTP port."""
    monkeypatch.setenv("PICTUNE_TEST_DELAY", "0.05")
    return settings.model_copy(
        update={
            "pipeline": FAKE_PIPELINE,
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


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server for this test only. Missing binary: the test fails (never skips)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
