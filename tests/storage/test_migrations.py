"""Alembic migrations: they build exactly the models' schema, and an old schema is handled."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from engine.config import Settings
from engine.errors import ConfigError
from storage import migrate
from storage.db import Database
from storage.models import Base, Generation
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


def test_upgrading_to_deliveries_never_posts_old_outcomes_again(tmp_path: Path) -> None:
    """Revision 0002 marks pieces that had ended as delivered (the bot that asked answered,
    or nobody can tell), and leaves those still on their way for the next bot to post."""
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(db, "0001")
    rows = {
        "pt-00000a": "done",
        "pt-00000b": "failed",
        "pt-00000c": "queued",
        "pt-00000d": "running",
    }
    with db.write_connection() as conn:
        for gen_id, status in rows.items():
            ended = "2026-01-01 10:05:00.000000" if status in ("done", "failed") else None
            conn.execute(
                text(
                    "INSERT INTO generations (id, created_at, updated_at, completed_at, platform,"
                    " workspace, user_id, message_ids, visibility, deleted, image_sha256, mode,"
                    " params, status, exemplar_ids, metrics, rounds, timings, backends, notes)"
                    " VALUES (:id, '2026-01-01 10:00:00.000000', '2026-01-01 10:06:00.000000',"
                    " :ended, 'discord', 'g1', 'u1', '{}', 'public', 0, 'ab', 'symbolic', '{}',"
                    " :status, '[]', '{}', '[]', '{}', '{}', '[]')"
                ),
                {"id": gen_id, "ended": ended, "status": status},
            )
    migrate.upgrade(db)
    with db.read() as session:
        delivered = {row.id: row.delivered_at for row in session.scalars(select(Generation)).all()}
        attempts = {row.delivery_attempts for row in session.scalars(select(Generation)).all()}
    assert delivered["pt-00000a"] == datetime(2026, 1, 1, 10, 5, tzinfo=UTC)
    assert delivered["pt-00000b"] is not None
    assert delivered["pt-00000c"] is None and delivered["pt-00000d"] is None
    assert attempts == {0}
    db.dispose()
