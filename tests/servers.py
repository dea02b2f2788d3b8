"""Real servers for the tests marked ``services``, started by the tests themselves.

- ``pg_server`` (session): one throwaway PostgreSQL cluster (Debian's server binaries, in a
  temporary folder, on a free loopback port) shared by the whole run; ``pg_url`` gives each
  test a fresh empty database on it, ``pg_migrated_url`` a fresh one already at the head
  revision (copied from a template migrated once).
- ``redis_url`` (per test): a redis-server of its own, so no queued message leaks between tests.

A missing binary or driver fails the test with a message saying what to install: these
tests never skip (CI installs ``postgresql`` and ``redis-server``).

Registered for the whole suite by ``pytest_plugins`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT = 20.0  # seconds a server may take to answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- Redis


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server on a free loopback port, persisting nothing; returns it and its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while not redis_answers(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server for this test only."""
    proc, url = start_redis(tmp_path)
    try:
        yield url
    finally:
        stop(proc)


# ---------------------------------------------------------------------- PostgreSQL


def pg_bin_dir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if not candidates:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed: "
            "apt-get install postgresql (tests marked 'services' need them)."
        )
    return Path(candidates[0]).parent


def _as_server_user(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root: run it (and the server) as the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PostgresServer:
    """A cluster in ``base``; ``url`` is its admin URL without a database name."""

    base: Path
    bin_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}"

    @classmethod
    def start(cls) -> PostgresServer:
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            pytest.fail(
                "psycopg2 is not installed: pip install psycopg2-binary (the 'scale' extra)."
            )
        bin_dir = pg_bin_dir()
        base = Path(tempfile.mkdtemp(prefix="pictune-pg-"))
        if os.geteuid() == 0:
            shutil.chown(base, "postgres")
        server = cls(base=base, bin_dir=bin_dir, port=free_port())
        data = str(base / "data")
        initdb = [str(bin_dir / "initdb"), "-D", data, "-U", "postgres", "--auth=trust"]
        server._run([*initdb, "-E", "UTF8"])
        options = f"-p {server.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", data, "-o", options, "-l", str(base / "log")]
        server._run([*pg_ctl, "-w", "-t", str(int(START_TIMEOUT)), "start"])
        return server

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(_as_server_user(cmd), capture_output=True, text=True)
        if done.returncode != 0:
            log = self.base / "log"
            tail = log.read_text()[-1500:] if log.exists() else ""
            shutil.rmtree(self.base, ignore_errors=True)
            pytest.fail(
                f"PostgreSQL would not start ({Path(cmd[0]).name} exited {done.returncode}): "
                f"{done.stderr.strip()[-1500:]} {tail}"
            )

    def stop(self) -> None:
        subprocess.run(
            _as_server_user(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.base / "data"), "-m", "immediate"]
                + ["stop"]
            ),
            capture_output=True,
        )
        shutil.rmtree(self.base, ignore_errors=True)

    def create_database(self, template: str | None = None) -> str:
        """A new database (a copy of ``template`` when given); returns its URL."""
        from sqlalchemy import create_engine

        name = "t_" + uuid.uuid4().hex[:12]
        admin = create_engine(f"{self.url}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                suffix = f" TEMPLATE {template}" if template else ""
                conn.exec_driver_sql(f"CREATE DATABASE {name}{suffix}")
        finally:
            admin.dispose()
        return f"{self.url}/{name}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the whole run (starting one costs about a second)."""
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """The name of a database migrated to the head revision, copied by ``pg_migrated_url``."""
    from storage import migrate
    from storage.db import Database

    url = pg_server.create_database()
    db = Database(url)
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()  # CREATE DATABASE ... TEMPLATE needs the template without connections
    return url.rsplit("/", 1)[1]


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A fresh, empty database for one test."""
    return pg_server.create_database()


@pytest.fixture
def pg_migrated_url(pg_server: PostgresServer, pg_template: str) -> str:
    """A fresh database at the head revision for one test."""
    return pg_server.create_database(template=pg_template)
