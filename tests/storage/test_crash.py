"""A process killed (SIGKILL) while recording leaves a sound database and no half piece."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.config import Settings
from storage.artifacts import sha256_hex
from storage.store import Store
from storage.views import GenerationView

ROOT = Path(__file__).resolve().parents[2]

# Records pieces with big, unique audio files in a loop until killed.
WRITER = """
import os, sys
from pathlib import Path
from engine.config import Settings
from storage.store import Requester, Store
from tests.storage.conftest import TINY_PNG, make_composition

store = Store.open(Settings(_env_file=None, data_dir=Path(sys.argv[1])), semantic=False)
print("ready", flush=True)
i = 0
while True:
    comp = make_composition(seed=i, salt=os.urandom(8).hex(), audio_size=3 * 2**20)
    comp.audio = os.urandom(len(comp.audio))  # never deduplicated: every piece writes
    store.record(comp, Requester(user_id="crash"), source_image=TINY_PNG)
    i += 1
"""


def run_and_kill(
    script: str, argument: Path, rng: random.Random, wait: tuple[float, float] = (0.2, 1.2)
) -> None:
    """Run ``script`` (which prints "ready" once it is writing) and SIGKILL it a random
    ``wait`` later, while it is still at work."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(argument)],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
        time.sleep(rng.uniform(*wait))
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "it died by itself"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def all_history(store: Store) -> list[GenerationView]:
    """Every listed piece, page by page: a fast machine records more than one page (100)
    before it is killed."""
    views: list[GenerationView] = []
    while page := store.history(
        workspace="local", limit=100, before=views[-1].id if views else None
    ):
        views += page
    return views


@pytest.mark.slow
def test_sigkill_while_recording_leaves_no_half_generation(settings: Settings) -> None:
    rng = random.Random(os.getpid())
    for _ in range(3):
        run_and_kill(WRITER, settings.data_dir, rng)

    db_file = settings.data_dir / "pictune.db"
    conn = sqlite3.connect(db_file)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    rows = conn.execute("SELECT id, status FROM generations").fetchall()
    conn.close()
    done = {gid for gid, status in rows if status == "done"}
    assert done, "the writer never finished a piece; kill later"

    store = Store.open(settings, semantic=False)
    listed = all_history(store)
    assert {v.id for v in listed} == done  # unfinished pieces are not listed
    for view in listed:
        expected = {"piece.mp3", "piece.mid", "piece.abc", "score.png", "motivation.md"}
        assert set(view.files) == expected
        with store.db.read() as session:
            from storage.models import Artifact

            for artifact in session.query(Artifact).filter_by(generation_id=view.id):
                data = store.artifacts.path(artifact.sha256).read_bytes()
                assert len(data) == artifact.size and sha256_hex(data) == artifact.sha256
        assert store.search(view.caption or "", workspace="local", user_id="crash", semantic=False)
    # Files of the piece being written when the process died are garbage, and collectable.
    store.collect_garbage(min_age_s=0)
    for view in all_history(store):
        assert all(p.exists() for p in view.files.values())
    assert list(store.artifacts.tmp.iterdir()) == []
    store.close()
