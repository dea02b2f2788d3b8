"""`pictune compose` under faults: SIGKILLed at random moments (nothing stuck queued, no
staging folder left), a full or read-only data folder, a damaged history database. Each
says what failed, in words that blame the right thing."""

from __future__ import annotations

import errno
import os
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.commands.outdir import STAGING, sweep_staging
from engine.config import Settings, get_settings
from storage.store import Store
from tests.storage.test_crash import run_and_kill

KILLS = 10

# `pictune compose` in a loop until killed, with a fast stand-in pipeline whose pieces carry
# big, unique audio (so that the kills land in the writes).
COMPOSER = """
import os, sys
from pathlib import Path
import bot.commands.compose as compose
from bot.cli import main
from tests.storage.conftest import TINY_PNG, make_composition

class Fast:
    def __init__(self, settings):
        pass
    def run(self, request, progress):
        comp = make_composition(salt=os.urandom(8).hex(), audio_size=3 * 2**20)
        comp.audio = os.urandom(len(comp.audio))
        return comp

compose.Pipeline = Fast
work = Path(sys.argv[1])
(work / "in.png").write_bytes(TINY_PNG)
print("ready", flush=True)
i = 0
while True:
    main(["compose", str(work / "in.png"), "--out", str(work / "out" / str(i)), "--json"])
    i += 1
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PICTUNE_SEMANTIC_SEARCH", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_sigkill_loop_leaves_nothing_stuck_or_behind(tmp_path: Path) -> None:
    rng = random.Random(os.getpid())
    work = tmp_path / "work"
    work.mkdir()
    for _ in range(KILLS):
        run_and_kill(COMPOSER, work, rng, wait=(0.05, 0.9))

    out = work / "out"
    left = [p for p in out.iterdir() if STAGING.match(p.name)] if out.exists() else []
    sweep_staging(out)  # what the next `pictune compose` does first
    # On a loaded machine no killed run may have reached its output folder: nothing to leave.
    assert not out.exists() or not [p for p in out.iterdir() if STAGING.match(p.name)], left

    settings = get_settings()
    with Store.open(settings, semantic=False) as store:  # the start-up sweep
        with store.db.read() as session:
            rows = session.execute(text("SELECT id, status FROM generations")).all()
        assert {status for _, status in rows} <= {"done"}  # none queued/running for ever
        for view in store.history(workspace="local", limit=100):
            assert all(p.exists() for p in view.files.values())
    conn = sqlite3.connect(settings.data_dir / "pictune.db")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()


def _compose(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any) -> str:
    import bot.commands.compose as compose
    from tests.storage.conftest import TINY_PNG, make_composition

    class Fast:
        def __init__(self, settings: Settings) -> None:
            pass

        def run(self, request: Any, progress: Any) -> Any:
            return make_composition()

    monkeypatch.setattr(compose, "Pipeline", Fast)
    src = tmp_path / "in.png"
    src.write_bytes(TINY_PNG)
    out = tmp_path / "out" / "x"
    code = main(["compose", str(src), "--out", str(out)])
    assert code != 0 and not out.exists()
    assert not [p for p in out.parent.iterdir() if STAGING.match(p.name)]
    return capsys.readouterr().err


@pytest.mark.parametrize(("err", "words"), [(errno.ENOSPC, "is full"), (errno.EROFS, "read-only")])
def test_full_or_read_only_data_folder_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    err: int,
    words: str,
) -> None:
    Store.open(get_settings(), semantic=False).close()

    def fsync(_fd: int) -> None:
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(os, "fsync", fsync)
    said = _compose(tmp_path, capsys, monkeypatch)
    assert words in said and "configuration problem" not in said, said


def test_damaged_database_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings()
    Store.open(settings, semantic=False).close()
    (settings.data_dir / "pictune.db").write_bytes(b"\0garbage" * 512)
    said = _compose(tmp_path, capsys, monkeypatch)
    assert "damaged" in said and "unexpected error" not in said, said
    assert main(["history"]) == 3
    assert "damaged" in capsys.readouterr().err
