"""Storage faults injected under the Store: a full or read-only disk (artifacts and
database), a damaged database file, a server away, pieces abandoned by dead processes.
Each raises its typed error with a true message, writes nothing half, and recovers."""

from __future__ import annotations

import errno
import os
import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.exc import OperationalError

from engine.config import Settings
from engine.errors import (
    DatabaseDamaged,
    DatabaseUnavailable,
    StorageFull,
    StorageReadOnly,
)
from storage.db import classify
from storage.jobs import JobQueue
from storage.models import Generation, utcnow
from storage.recording import ABANDONED_MESSAGE
from storage.store import Requester, Store
from tests.storage.conftest import TINY_PNG, make_composition


def _fsync_fails(err: int) -> Any:
    def fsync(_fd: int) -> None:
        raise OSError(err, os.strerror(err))

    return fsync


def _generations(settings: Settings) -> list[tuple[str, str]]:
    conn = sqlite3.connect(settings.data_dir / "pictune.db")
    try:
        return conn.execute("SELECT id, status FROM generations").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("err", "kind"), [(errno.ENOSPC, StorageFull), (errno.EROFS, StorageReadOnly)]
)
def test_artifact_write_fault_is_typed_and_keeps_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, err: int, kind: type
) -> None:
    store = Store.open(settings, semantic=False)
    monkeypatch.setattr(os, "fsync", _fsync_fails(err))  # the artifact store fsyncs each file
    with pytest.raises(kind) as exc:
        store.record(make_composition(), Requester(), source_image=TINY_PNG)
    assert "picture" not in exc.value.user_message.split("(")[0]  # not blamed on the picture
    assert _generations(settings) == []
    assert list(store.artifacts.tmp.iterdir()) == []  # the half-written file went too
    monkeypatch.undo()
    gen_id = store.record(make_composition(), Requester(), source_image=TINY_PNG)
    assert _generations(settings) == [(gen_id, "done")]
    store.close()


def _on_connect(store: Store, pragma: str) -> None:
    store.db.engine.dispose()  # new connections only

    @event.listens_for(store.db.engine, "connect")
    def limit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(pragma)


def test_database_full_is_typed_and_atomic(settings: Settings) -> None:
    store = Store.open(settings, semantic=False)
    store.record(make_composition(seed=1), Requester(), source_image=TINY_PNG)
    before = _generations(settings)
    with store.db.read() as session:
        pages = session.connection().exec_driver_sql("PRAGMA page_count").scalar()
    _on_connect(store, f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL on any growth
    with pytest.raises(StorageFull):
        for seed in range(2, 40):  # a few fit in free pages; the database fills up
            store.record(
                make_composition(seed=seed, caption="x " * 4000), Requester(), source_image=TINY_PNG
            )
    after = _generations(settings)
    assert {status for _, status in after} == {"done"} and set(before) <= set(after)
    store.close()


def test_read_only_database_is_typed(settings: Settings) -> None:
    store = Store.open(settings, semantic=False)
    _on_connect(store, "PRAGMA query_only = ON")  # SQLITE_READONLY, as for a read-only file
    with pytest.raises(StorageReadOnly):
        store.record(make_composition(), Requester(), source_image=TINY_PNG)
    store.close()


@pytest.mark.parametrize("where", [0, 100])
def test_damaged_database_file_says_damaged(settings: Settings, where: int) -> None:
    Store.open(settings, semantic=False).close()
    db_file = settings.data_dir / "pictune.db"
    for extra in ("-wal", "-shm"):
        (settings.data_dir / f"pictune.db{extra}").unlink(missing_ok=True)
    with db_file.open("r+b") as fh:  # the header (0) or the schema page (100) overwritten
        fh.seek(where)
        fh.write(b"\xde\xad\xbe\xef" * 1024)
    with pytest.raises(DatabaseDamaged) as exc:
        Store.open(settings, semantic=False).count()
    assert "damaged" in exc.value.user_message


def test_server_away_is_named() -> None:
    exc = OperationalError("SELECT 1", {}, Exception("could not connect to server: refused"))
    assert isinstance(classify(exc), DatabaseUnavailable)
    lock = OperationalError("SELECT 1", {}, Exception("database is locked"))
    assert classify(lock) is None  # not a fault a person acts on: left as it is
    assert classify(RuntimeError("bug")) is None


def test_pending_piece_and_then_are_one_transaction(store: Store) -> None:
    def then(_session: Any, _gen_id: str) -> None:
        raise RuntimeError("killed in between")

    with pytest.raises(RuntimeError):
        store.create_pending_with(Requester(), then=then, mode="symbolic", source_image=TINY_PNG)
    assert store.count() == 0


def test_sweep_ends_abandoned_pieces_only(settings: Settings) -> None:
    store = Store.open(settings, semantic=False)
    orphan = store.create_pending(Requester(), mode="symbolic", source_image=TINY_PNG)
    queued = store.create_pending(Requester(), mode="symbolic", source_image=TINY_PNG)
    fresh = store.create_pending(Requester(), mode="symbolic", source_image=TINY_PNG)
    JobQueue(store.db).enqueue(
        generation_id=queued, payload={}, platform="cli", workspace="local", user_id="u"
    )
    with store.db.write() as session:
        session.execute(
            update(Generation)
            .where(Generation.id.in_([orphan, queued]))
            .values(created_at=utcnow() - timedelta(days=1))
        )
    store.close()
    store = Store.open(settings, semantic=False)  # the start-up sweep
    statuses = dict(_generations(settings))
    assert statuses == {orphan: "failed", queued: "queued", fresh: "queued"}
    view = store.get(orphan, workspace="local", user_id=None)
    assert view.error == ABANDONED_MESSAGE
    store.close()
