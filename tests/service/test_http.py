"""/healthz and /metrics over real HTTP on loopback."""

from __future__ import annotations

import httpx
import pytest

from engine.config import Settings
from engine.errors import JobFailed
from engine.types import ComposeRequest
from service.api import Requester
from service.http import OpsServer
from service.local import LocalJobService
from storage.store import Store
from tests.service.fakes import png_with


async def test_healthz_and_metrics(svc_settings: Settings, store: Store) -> None:
    service = LocalJobService(svc_settings, store)
    await service.start()
    ops = OpsServer(service, host="127.0.0.1", port=0)
    port = await ops.start()
    try:
        ok = await service.submit(
            ComposeRequest(image=png_with("m1")), Requester("cli", "local", "a")
        )
        bad = await service.submit(
            ComposeRequest(image=png_with("m2"), hint="fail"), Requester("cli", "local", "b")
        )
        await service.wait(ok.job_id, timeout=30)
        with pytest.raises(JobFailed):
            await service.wait(bad.job_id, timeout=30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/healthz")
            assert health.status_code == 200
            body = health.json()
            assert body["ok"] is True and body["database"] == "ok"
            assert body["workers"]["ready"] == 1
            text = (await client.get("/metrics")).text
        assert "pictune_queue_depth 0.0" in text
        assert 'pictune_jobs{state="done"} 1.0' in text
        assert 'pictune_jobs{state="failed"} 1.0' in text
        assert 'pictune_stage_seconds_count{stage="compose"} 1.0' in text
        assert 'pictune_jobs_finished_total{state="failed"} 1.0' in text
        assert "pictune_job_failures_total" in text
        assert "pictune_queue_wait_seconds_count 2.0" in text
    finally:
        await ops.stop()
        await service.stop()


async def test_healthz_reports_a_broken_database(svc_settings: Settings, store: Store) -> None:
    service = LocalJobService(svc_settings, store)
    ops = OpsServer(service, host="127.0.0.1", port=0)
    port = await ops.start()
    try:
        store.db.engine.dispose()
        db_file = svc_settings.data_dir / "pictune.db"
        for path in db_file.parent.glob("pictune.db*"):
            path.unlink()
        db_file.mkdir()  # not a database any more
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/healthz")
        assert health.status_code == 503 and health.json()["ok"] is False
    finally:
        await ops.stop()
