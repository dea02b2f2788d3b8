"""Engine and sessions: SQLite done right, the same code on PostgreSQL.

SQLite gets WAL (readers never wait for the writer), a busy timeout, foreign keys and
``synchronous=NORMAL`` on every connection. Python's sqlite3 module starts transactions
lazily and as DEFERRED, so two writers that both read first would both try to upgrade
their shared lock and one would fail at once with "database is locked". We switch the
driver's own transaction handling off and emit ``BEGIN IMMEDIATE`` ourselves for write
sessions: a writer takes the write lock up front, and a second one waits on the busy
timeout instead of failing. Read sessions use a plain (deferred) ``BEGIN``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import (
    DatabaseDamaged,
    DatabaseUnavailable,
    StorageFault,
    StorageFull,
    StorageReadOnly,
    os_fault,
)

BUSY_TIMEOUT_MS = 60_000
WRITE_OPTION = "pictune_write"  # execution option that asks for BEGIN IMMEDIATE
ARTIFACT_LOCK_KEY = 7_368_274  # PostgreSQL advisory lock that stands in for SQLite's write lock


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL; None for other databases and in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


# What SQLite (and PostgreSQL) say, lower-cased, for each fault a person can act on. Matched
# on the message because sqlite3 exposes no error code before Python 3.11's sqlite_errorcode,
# and PostgreSQL's driver differs again.
_FULL = ("database or disk is full", "no space left on device", "disk quota exceeded")
_READ_ONLY = ("readonly database", "read-only file system", "read only transaction")
_DAMAGED = ("file is not a database", "disk image is malformed", "malformed database schema")
_UNREACHABLE = (
    "could not connect",
    "connection refused",
    "server closed the connection",
    "connection reset",
    "timeout expired",
    "name or service not known",
)


def classify(exc: BaseException) -> StorageFault | None:
    """The typed error for a database or file failure caused by the machine (disk full,
    read-only, damaged file, server away); None when it is something else (a bug, a lock
    wait, a constraint), which callers leave as it is."""
    if isinstance(exc, StorageFault):
        return exc
    if isinstance(exc, OSError):
        return os_fault(exc)
    if not isinstance(exc, DBAPIError):
        return None
    text_ = str(exc.orig if exc.orig is not None else exc).lower()
    detail = f"{type(exc.orig or exc).__name__}: {text_[:300]}"
    for needles, kind in (
        (_FULL, StorageFull),
        (_READ_ONLY, StorageReadOnly),
        (_DAMAGED, DatabaseDamaged),
        (_UNREACHABLE, DatabaseUnavailable),
    ):
        if any(n in text_ for n in needles):
            return kind(detail=detail)
    return None


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level: we issue BEGIN ourselves (see the module docstring).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first, so that switching to WAL waits rather than fails.
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Any) -> None:
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_engine(url: str) -> Engine:
    """An Engine for ``url`` with the connection settings this project relies on."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            pool_size=10,
            max_overflow=20,
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@contextmanager
def typed_faults() -> Iterator[None]:
    """Raise the typed StorageFault for a full, read-only or damaged store; anything else
    unchanged. A server that does not answer stays the driver's error: at the terminal it is
    reported as a configuration problem (check the URL, start the server), which it is; the
    workers name it with ``classify``."""
    try:
        yield
    except (DBAPIError, OSError) as exc:
        fault = classify(exc)
        if fault is None or fault is exc or isinstance(fault, DatabaseUnavailable):
            raise
        raise fault from exc


class Database:
    """An engine plus two session factories: ``read()`` and ``write()``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._writer = self.engine.execution_options(**{WRITE_OPTION: True})
        self._read_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write_factory = sessionmaker(bind=self._writer, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; rolled back at the end (it never writes)."""
        with typed_faults(), self._read_factory() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: BEGIN IMMEDIATE on SQLite; committed on success, else rolled
        back. A full disk, a read-only or damaged file raise their typed error (storage
        faults), so that no caller blames the request or the configuration for them."""
        with typed_faults(), self._write_factory() as session, session.begin():
            # Take the write lock now (SQLite) rather than at the first flush.
            session.connection()
            yield session

    def write_connection(self) -> Any:
        """A Connection context in a write transaction (used for migrations)."""
        return self._writer.begin()

    def lock_artifacts(self, session: Session) -> None:
        """Serialise artifact-file bookkeeping with other writers.

        On SQLite the write transaction already holds the database's single write lock; on
        PostgreSQL a transaction-scoped advisory lock plays that part.
        """
        if self.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ARTIFACT_LOCK_KEY})

    def dispose(self) -> None:
        self.engine.dispose()
