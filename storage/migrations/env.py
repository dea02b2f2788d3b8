"""Alembic environment. There is no alembic.ini: storage/migrate.py builds the Config in code
and hands over a Connection already inside a write transaction (see storage/migrate.py)."""

from __future__ import annotations

from alembic import context

from storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the in-code path is supported
    raise RuntimeError("Run migrations through `pictune db upgrade` (storage.migrate).")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
