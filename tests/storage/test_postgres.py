"""The same Store on a real PostgreSQL server, started by the test in a temporary folder.

The server (one per test run) and the fresh database each test gets come from
``tests/servers.py``: PostgreSQL's server binaries (Debian: `apt-get install postgresql`) and
psycopg2 are needed; when they are missing the tests fail with a message saying so.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import Settings
from engine.errors import ConfigError, NotFound
from storage import migrate
from storage.db import Database
from storage.store import Requester, Store
from tests.storage.conftest import TINY_PNG, FakeEmbedder, make_composition
from tests.storage.test_migrations import schema_differences

pytestmark = pytest.mark.services

G = Requester(platform="slack", workspace="T1", channel="C1", user_id="U1", user_name="Ann")


@pytest.fixture
def pg_store(pg_migrated_url: str, tmp_path: Path) -> Iterator[Store]:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", database_url=pg_migrated_url)
    store = Store.open(settings, embedder=FakeEmbedder())
    yield store
    store.close()


def test_postgres_is_not_migrated_behind_the_operators_back(pg_url: str, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", database_url=pg_url)
    with pytest.raises(ConfigError) as info:
        Store.open(settings, semantic=False)
    assert "pictune db upgrade" in info.value.user_message
    db = Database(pg_url)
    migrate.upgrade(db)
    assert schema_differences(db) == []
    db.dispose()
    Store.open(settings, semantic=False).close()


def test_record_history_search_export(pg_store: Store, tmp_path: Path) -> None:
    comp = make_composition(caption="huge waves on a stormy sea", hint="more drums")
    gen_id = pg_store.record(comp, G, source_image=TINY_PNG)
    [view] = pg_store.history(workspace="T1")
    assert view.id == gen_id and view.created_at.tzinfo is not None
    for word in ("wave", "stormy", "drums", "minor"):
        assert [
            v.id for v in pg_store.search(word, workspace="T1", user_id="U2", semantic=False)
        ] == [gen_id], word
    assert pg_store.search("waves", workspace="other", user_id="U1") == []
    assert pg_store.search("\"'&|!():*", workspace="T1", user_id="U1", semantic=False) == []
    written = pg_store.export_files(gen_id, tmp_path / "out", workspace="T1", user_id="U1")
    for name, data in comp.files().items():
        assert written[name].read_bytes() == data
    assert pg_store.load_source_image(gen_id) == TINY_PNG


def test_scoping_lineage_favourites_delete(pg_store: Store) -> None:
    parent = pg_store.record(make_composition(seed=1), G)
    child = pg_store.record(make_composition(seed=2), G, parent_id=parent)
    private = pg_store.record(
        make_composition(seed=3),
        Requester(platform="slack", workspace="T1", user_id="U1", visibility="private"),
    )
    with pytest.raises(NotFound):
        pg_store.get(private, workspace="T1", user_id="U2")
    with pytest.raises(NotFound):
        pg_store.get(parent, workspace="T2", user_id="U1")
    assert [v.id for v in pg_store.lineage(child, workspace="T1", user_id="U2").ancestors] == [
        parent
    ]
    assert pg_store.favourite(parent, workspace="T1", user_id="U2") == 1
    pg_store.set_message_ids(parent, {"reply": "C1:1700000000.000100"})
    assert pg_store.find_by_message("slack", "C1:1700000000.000100").id == parent
    pg_store.delete(parent, by_user="U1")
    assert pg_store.favourites(workspace="T1", user_id="U2") == []
    assert [v.id for v in pg_store.history(workspace="T1")] == [child]


def test_semantic_search(pg_store: Store) -> None:
    gen_id = pg_store.record(make_composition(caption="zebra crossing", motivation="."), G)
    found = pg_store.search("zebra nonsenseword", workspace="T1", user_id="U1")
    assert [v.id for v in found] == [gen_id]


def test_concurrent_writers(pg_store: Store) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(200):
                pg_store.create_pending(
                    Requester(platform="slack", workspace="TW", user_id=f"u{n}"),
                    image_sha256=f"{n:02x}{i:062x}",
                    mode="symbolic",
                )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300 - (time.monotonic() - start))
    assert errors == []
    assert pg_store.count(workspace="TW") == 1600
