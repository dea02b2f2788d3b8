"""Kill the whole local service (SIGKILL, worker processes included) with jobs queued and
running; start it again on the same SQLite file; every job finishes, none twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.config import Settings
from storage.models import Artifact, Job
from storage.store import Store
from tests.service.conftest import FAKE_PIPELINE, REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

N_JOBS = 8


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.service.crash_service", *args],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_jobs_survive_a_killed_service(svc_settings: Settings, tmp_path: Path) -> None:
    runlog = tmp_path / "runs.log"
    log = tmp_path / "service.log"
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO),
        PICTUNE_DATA_DIR=str(svc_settings.data_dir),
        PICTUNE_TEST_PIPELINE=FAKE_PIPELINE,
        PICTUNE_WORKER_MODE="process",
        PICTUNE_CONCURRENCY="2",
        PICTUNE_JOB_HEARTBEAT="0.3",
        PICTUNE_SEMANTIC_SEARCH="false",
        PICTUNE_HTTP_PORT="0",
        PICTUNE_USER_ACTIVE_LIMIT="0",
        PICTUNE_REFINE_ROUNDS="1",
        PICTUNE_TEST_DELAY="0.5",
        PICTUNE_TEST_RUNLOG=str(runlog),
    )
    store = Store.open(svc_settings, semantic=False)  # creates the schema before both runs
    first = start(["--submit", str(N_JOBS)], env, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert first.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            with store.db.read() as session:
                states = [j.state for j in session.query(Job).all()]
            if len(states) == N_JOBS and "running" in states and "queued" in states:
                break
            time.sleep(0.05)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)

    with store.db.read() as session:
        at_kill = {j.id: j.state for j in session.query(Job).all()}
    was_running = [job_id for job_id, state in at_kill.items() if state == "running"]
    assert was_running and "queued" in at_kill.values()

    second = start(["--drain"], env, log)
    try:
        assert second.wait(timeout=180) == 0, log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)

    with store.db.read() as session:
        jobs = {j.id: j for j in session.query(Job).all()}
        assert {j.state for j in jobs.values()} == {"done"}
        for job_id in was_running:
            assert jobs[job_id].attempts == 2
        for job in jobs.values():
            files = session.query(Artifact).filter(Artifact.generation_id == job.generation_id)
            assert files.count() == 7  # source + one set of six files: recorded once
    assert store.count(status="done") == N_JOBS
    store.close()
