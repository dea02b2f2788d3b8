"""Schema migrations with Alembic, configured in code (no alembic.ini), so they work from an
installed package.

Choice: an embedded SQLite database is upgraded automatically when a Store opens it (one
owner, nothing to coordinate). Any other database (PostgreSQL) is never changed behind the
operator's back: an outdated schema stops the Store with a message that says to run
``pictune db upgrade``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from engine.errors import ConfigError
from storage.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "storage/migrations/versions holds no revision"
    return head


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@dataclass
class SchemaState:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def known(self) -> bool:
        """False when the database was migrated by a newer Pictune than this one."""
        if self.current is None:
            return True
        script = ScriptDirectory.from_config(alembic_config())
        return any(rev.revision == self.current for rev in script.walk_revisions())


def schema_state(db: Database) -> SchemaState:
    return SchemaState(current=current_revision(db), head=head_revision())


def upgrade(db: Database, revision: str = "head") -> SchemaState:
    """Bring the schema to ``revision``. Safe when several processes start at once: the
    migration runs inside one write transaction (BEGIN IMMEDIATE on SQLite), so the second
    process waits, then finds the schema current and does nothing."""
    state = schema_state(db)
    if not state.known:
        raise newer_schema_error(state)
    if state.up_to_date and revision == "head":
        return state
    with db.write_connection() as conn:
        command.upgrade(alembic_config(conn), revision)
    return schema_state(db)


def ensure_current(db: Database, *, auto_upgrade: bool) -> SchemaState:
    """Upgrade (when allowed) or refuse to work with an outdated schema."""
    state = schema_state(db)
    if state.up_to_date:
        return state
    if not state.known:
        raise newer_schema_error(state)
    if auto_upgrade:
        return upgrade(db)
    raise ConfigError(
        "The history database is out of date: run `pictune db upgrade`, then start again.",
        detail=f"schema revision {state.current!r}, this version needs {state.head!r}",
    )


def newer_schema_error(state: SchemaState) -> ConfigError:
    return ConfigError(
        "The history database was made by a newer Pictune: upgrade Pictune to use it.",
        detail=f"schema revision {state.current!r} is unknown here (head {state.head!r})",
    )
