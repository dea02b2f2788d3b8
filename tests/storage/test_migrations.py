"""Alembic migrations: they build exactly the models' schema, and an old schema is handled."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine.config import Settings
from engine.errors import ConfigError
from storage import migrate
from storage.db import Database
from storage.models import Base
from storage.store import Store


def _ignore_search_objects(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    # The FTS5 table and PostgreSQL's expression index live only in the migration.
    return not (name or "").startswith(("generation_fts", "ix_generations_fts"))


def schema_differences(db: Database) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": _ignore_search_objects}
        )
        return compare_metadata(context, Base.metadata)


def test_migrations_build_the_models_schema(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    state = migrate.upgrade(db)
    assert state.up_to_date and state.current == migrate.head_revision()
    assert schema_differences(db) == []
    db.dispose()


def test_downgrade_then_upgrade_again(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(db)
    with db.write_connection() as conn:
        command.downgrade(migrate.alembic_config(conn), "base")
    assert migrate.current_revision(db) is None
    migrate.upgrade(db)
    assert migrate.schema_state(db).up_to_date
    db.dispose()


def test_outdated_database_gives_a_clear_message(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    with pytest.raises(ConfigError) as info:
        migrate.ensure_current(db, auto_upgrade=False)
    assert "pictune db upgrade" in info.value.user_message
    db.dispose()


def test_database_from_a_newer_version_is_refused(settings: Settings) -> None:
    Store.open(settings, semantic=False).close()
    db = Database(settings.resolved_database_url())
    with db.write_connection() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff9999'")
    with pytest.raises(ConfigError) as info:
        Store.open(settings, semantic=False)
    assert "newer Pictune" in info.value.user_message
    db.dispose()


def test_sqlite_store_upgrades_on_open(settings: Settings) -> None:
    store = Store.open(settings, semantic=False)
    assert migrate.schema_state(store.db).up_to_date
    store.close()


def _open_store(data_dir: str) -> None:
    Store.open(Settings(_env_file=None, data_dir=Path(data_dir)), semantic=False).close()


def test_processes_starting_together_migrate_once(settings: Settings) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open_store, args=(str(settings.data_dir),)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    db = Database(settings.resolved_database_url())
    assert migrate.schema_state(db).up_to_date
    db.dispose()
