"""The embedded default end to end: the real pipeline behind the job service, on a tiny
corpus folder (its index is built in a temporary cache), with real FluidSynth audio."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import Settings
from engine.types import ComposeRequest
from service import load_job_service
from service.api import JobEvent, Requester
from storage.store import Store
from tests.images import rgb_png

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TUNES = """X:1
T:Morning Air
M:3/4
L:1/8
Q:1/4=90
K:D
A2 d2 f2|e2 d2 B2|A2 F2 A2|d6|f2 e2 d2|B2 A2 F2|E2 F2 G2|A6|]

X:2
T:Slow Lament
M:4/4
L:1/8
Q:1/4=60
K:Dm
D2 F2 A2 d2|c2 A2 F2 D2|E2 G2 B2 A2|D8|]

X:3
T:Quick Reel
M:4/4
L:1/8
Q:1/4=120
K:G
GABc dBGB|cBAG FDFA|GABc dBGB|AGFA G4|]
"""


def real_settings(settings: Settings, tmp_path: Path, **changes: object) -> Settings:
    """The embedded default on a tiny corpus (its index built in a temporary cache)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tunes.abc").write_text(TUNES)
    return settings.model_copy(
        update={
            "cache_dir": tmp_path / "cache",
            "corpus": str(corpus),
            "worker_mode": "thread",
            "refine_rounds": 1,
            "duration": 8.0,
            "http_port": 0,
            "semantic_search": False,
            "retrieve_k": 2,
            **changes,
        }
    )


async def test_real_pipeline_through_the_service(settings: Settings, tmp_path: Path) -> None:
    settings = real_settings(settings, tmp_path)
    store = Store.open(settings, semantic=False)
    service = load_job_service(settings, store)
    await service.start()
    try:
        sub = await service.submit(
            ComposeRequest(image=rgb_png(), duration=8.0, hint="calm piano"),
            Requester("slack", "T1", "U1", channel="C1"),
        )
        events: list[JobEvent] = [e async for e in service.events(sub.job_id)]
        assert events[-1].state == "done", events[-1]
        stages = {e.stage for e in events}
        assert {"perceive", "compose", "audio"} <= stages
        gen_id = await service.wait(sub.job_id, timeout=10)
    finally:
        await service.stop()
    view = store.get(gen_id, workspace="T1", user_id="U1")
    assert view.status == "done"
    audio = view.files["piece.mp3"].read_bytes()
    assert len(audio) > 10_000  # seconds of real MP3
    assert view.files["piece.mid"].read_bytes().startswith(b"MThd")
    assert "X:" in view.files["piece.abc"].read_text()
    assert view.timings and view.metrics
    store.close()
