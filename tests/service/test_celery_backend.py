"""The Celery backend against a real Redis and real `celery worker` processes.

30 jobs go to 2 workers; one worker is killed with SIGKILL (its whole process group, as if
its machine died) while it runs a job. Every job must end done, each piece completed exactly
once (one set of files; the killed job ran twice and was recorded once).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from engine.config import Settings
from engine.types import ComposeRequest
from service.api import Requester
from service.celery_backend import CeleryJobService
from storage.models import Artifact, Job
from storage.store import Store
from tests.service.conftest import FAKE_PIPELINE, REPO
from tests.service.fakes import png_with

pytestmark = [pytest.mark.services, pytest.mark.timeout(240)]

N_JOBS = 30
FILES_PER_PIECE = 6  # piece.mp3, piece.mid, piece.abc, score.png, motivation.md, result.json


def worker_env(settings: Settings, redis_url: str, runlog: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO),
        PICTUNE_DATA_DIR=str(settings.data_dir),
        PICTUNE_REDIS_URL=redis_url,
        PICTUNE_TEST_PIPELINE=FAKE_PIPELINE,
        PICTUNE_JOB_HEARTBEAT=str(settings.job_heartbeat),
        PICTUNE_SEMANTIC_SEARCH="false",
        PICTUNE_REFINE_ROUNDS="1",
        PICTUNE_QUEUE="celery",
        PICTUNE_HTTP_PORT="0",  # two workers on one host: no metrics port to fight over
        PICTUNE_TEST_DELAY="0.4",
        PICTUNE_TEST_RUNLOG=str(runlog),
        HF_HUB_OFFLINE="1",
    )
    return env


def start_worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(
        [
            str(celery),
            "-A",
            "service.celery_app",
            "worker",
            "-c",
            "1",
            "-n",
            f"{name}@%h",
            "-Q",
            "pictune",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killpg takes main and child
    )


def owner_of(pid: int, workers: dict[str, subprocess.Popen[bytes]]) -> str | None:
    for name, proc in workers.items():
        try:
            family = {proc.pid} | {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            continue
        if pid in family:
            return name
    return None


async def test_thirty_jobs_survive_a_killed_worker(
    svc_settings: Settings, store: Store, redis_url: str, tmp_path: Path
) -> None:
    settings = svc_settings.model_copy(
        update={
            "redis_url": redis_url,
            "queue": "celery",
            "job_heartbeat": 0.5,
            "user_active_limit": 0,
            "workspace_active_limit": 0,
            "queue_cap": 0,
        }
    )
    runlog = tmp_path / "runs.log"
    env = worker_env(settings, redis_url, runlog)
    workers = {name: start_worker(name, env, tmp_path / f"{name}.log") for name in ("w1", "w2")}
    service = CeleryJobService(settings, store)
    try:
        await service.start()
        requester = Requester("discord", "g1", "u1")
        submitted = [
            await service.submit(ComposeRequest(image=png_with(f"job{i}"), seed=i), requester)
            for i in range(N_JOBS)
        ]
        # Wait until some job runs, then kill the worker holding it.
        victim_job = victim = None
        deadline = time.monotonic() + 120
        while victim is None:
            assert time.monotonic() < deadline, (
                "no job started: " + (tmp_path / "w1.log").read_text()[-2000:]
            )
            with store.db.read() as session:
                running = session.query(Job).filter(Job.state == "running").all()
                for job in running:
                    pid = int((job.worker or "x:x:0").split(":")[2])
                    name = owner_of(pid, workers)
                    if name is not None:
                        victim_job, victim = job.id, name
                        break
            await asyncio.sleep(0.05)
        os.killpg(workers[victim].pid, signal.SIGKILL)
        workers[victim].wait(timeout=10)

        results = await asyncio.wait_for(
            asyncio.gather(*(service.wait(s.job_id) for s in submitted)), timeout=180
        )
        assert results == [s.generation_id for s in submitted]
    finally:
        await service.stop()
        for proc in workers.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in workers.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    with store.db.read() as session:
        jobs = {j.id: j for j in session.query(Job).all()}
        assert len(jobs) == N_JOBS
        assert {j.state for j in jobs.values()} == {"done"}
        assert jobs[victim_job].attempts == 2  # it died with its worker, then ran again
        for s in submitted:
            files = session.query(Artifact).filter(Artifact.generation_id == s.generation_id).all()
            # One source image plus one set of files: completed exactly once.
            assert sorted(a.kind for a in files).count("source") == 1
            assert len(files) == FILES_PER_PIECE + 1, [a.name for a in files]
    for s in submitted:
        assert store.get(s.generation_id, workspace="g1", user_id="u1").status == "done"
    runs = runlog.read_text().splitlines()
    assert len(runs) >= N_JOBS + 1  # the killed job started twice
    pids = {line.split()[0] for line in runs}
    assert len(pids) >= 2  # both workers took jobs


async def test_a_pool_process_slow_to_load_its_models_is_not_killed(
    svc_settings: Settings, store: Store, redis_url: str, tmp_path: Path
) -> None:
    """When a job takes its pool process down, Celery starts another one and gives it a few
    seconds (4 by default) to come up before killing it as hung, then starts another, and
    so on forever. Loading the models takes longer than that: the worker must wait for it."""
    settings = svc_settings.model_copy(update={"redis_url": redis_url, "queue": "celery"})
    runlog = tmp_path / "runs.log"
    env = worker_env(settings, redis_url, runlog) | {"PICTUNE_TEST_LOAD_DELAY": "5"}
    log = tmp_path / "slow.log"
    worker = start_worker("slow", env, log)
    service = CeleryJobService(settings, store)
    requester = Requester("cli", "local", "u")
    try:
        await service.start()
        first = await service.submit(ComposeRequest(image=png_with("one")), requester)
        await service.wait(first.job_id, timeout=60)
        [child] = psutil.Process(worker.pid).children()
        child.kill()  # as a crashing job would; the pool replaces the process
        child.wait(timeout=10)
        second = await service.submit(ComposeRequest(image=png_with("two")), requester)
        try:
            await service.wait(second.job_id, timeout=60)
        except TimeoutError:
            pytest.fail("the replacement process never ran a job:\n" + log.read_text()[-3000:])
    finally:
        await service.stop()
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
    assert "Timed out waiting for UP message" not in log.read_text()
    assert len(runlog.read_text().splitlines()) == 2
