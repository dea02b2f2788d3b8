"""SQLite done right: pragmas on every connection, and concurrent writers that never fail."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from sqlalchemy import text

from engine.config import Settings
from storage.db import BUSY_TIMEOUT_MS, Database, sqlite_path
from storage.models import Generation
from storage.store import Requester, Store

THREADS = 8
WRITES = 200


def test_every_connection_gets_the_pragmas(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == BUSY_TIMEOUT_MS
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    db.dispose()


def test_write_sessions_take_the_lock_up_front(tmp_path: Path) -> None:
    """A write session holds SQLite's RESERVED lock from its start (BEGIN IMMEDIATE), so a
    second writer cannot start until it ends; a reader can."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    import sqlite3

    with db.write() as session:
        other = sqlite3.connect(tmp_path / "x.db", timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            raise AssertionError("a second writer got the lock")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
        assert other.execute("SELECT count(*) FROM t").fetchone() == (0,)  # readers go on
        other.close()
        session.execute(text("INSERT INTO t VALUES (1)"))
    db.dispose()


def test_sqlite_path() -> None:
    assert sqlite_path("sqlite:////tmp/a/b.db") == Path("/tmp/a/b.db")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql://u@h/db") is None


def test_eight_threads_two_hundred_writes_each(settings: Settings) -> None:
    store = Store.open(settings, semantic=False)
    errors: list[BaseException] = []
    made: list[list[str]] = [[] for _ in range(THREADS)]
    start = threading.Barrier(THREADS)

    def writer(n: int) -> None:
        origin = Requester(platform="discord", workspace="g", user_id=f"u{n}")
        start.wait()
        try:
            for i in range(WRITES):
                gen_id = store.create_pending(
                    origin, image_sha256=f"{n:02x}{i:062x}", mode="symbolic", seed=i
                )
                made[n].append(gen_id)
                if i % 10 == 0:  # mix in updates and reads
                    store.set_message_ids(gen_id, {"reply": f"{n}-{i}"})
                    store.get(gen_id, workspace="g", user_id=f"u{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ids = [g for per_thread in made for g in per_thread]
    assert len(ids) == len(set(ids)) == THREADS * WRITES
    assert store.count(workspace="g") == THREADS * WRITES
    with store.db.read() as session:
        for n in range(THREADS):
            owned = session.query(Generation).filter_by(user_id=f"u{n}").count()
            assert owned == WRITES
    for n in range(THREADS):
        assert store.find_by_message("discord", f"{n}-190").id == made[n][190]
    store.close()


def _process_writer(data_dir: str, n: int, count: int) -> None:
    store = Store.open(Settings(_env_file=None, data_dir=Path(data_dir)), semantic=False)
    for i in range(count):
        store.create_pending(
            Requester(workspace="w", user_id=f"p{n}"), image_sha256=f"{n:02x}{i:062x}", mode="audio"
        )
    store.close()


def test_processes_writing_at_once(settings: Settings) -> None:
    """The bot and workers are separate processes opening (and migrating) the same file."""
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_process_writer, args=(str(settings.data_dir), n, 60)) for n in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    store = Store.open(settings, semantic=False)
    assert store.count(workspace="w") == 180
    store.close()
