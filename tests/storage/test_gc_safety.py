"""`pictune db gc` cannot empty a store after a database reset; doctor names a damaged file.

The scene from the incident: a zero-length pictune.db was recreated empty and `db gc` then
deleted 85 of 92 artifact files."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot.cli
from bot.cli import main
from bot.commands import doctor
from engine.config import Settings, get_settings
from service.api import Requester
from storage.gc import SMALL_COUNT, plan_gc
from storage.store import Store
from tests.storage.conftest import make_composition

DAY = 24 * 3600.0


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("PICTUNE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PICTUNE_DATABASE_URL", raising=False)
    monkeypatch.setattr(bot.cli, "COMMAND_MODULES", ("bot.commands.db",))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def fill(settings: Settings, pieces: int, *, age_s: float = 0.0, salt: str = "") -> int:
    """Record ``pieces`` pieces; their files get an mtime ``age_s`` in the past. Returns
    how many files the store holds."""
    with Store.open(settings, semantic=False) as store:
        for i in range(pieces):
            store.record(make_composition(salt=f"{salt}{i}", seed=i), Requester())
        files = list(store.artifacts.stored())
        if age_s:
            then = time.time() - age_s
            for sha in files:
                os.utime(store.artifacts.path(sha), (then, then))
        return len(files)


def files_in(settings: Settings) -> int:
    return sum(1 for _ in (settings.data_dir / "artifacts").glob("??/??/*"))


def test_a_zero_length_database_is_refused_before_it_is_recreated(
    env: Settings, capsys: pytest.CaptureFixture
) -> None:
    stored = fill(env, 20, age_s=2 * DAY)
    assert stored > 20
    (env.data_dir / "pictune.db").write_bytes(b"")  # the reset
    for argv in (["db", "gc"], ["db", "gc", "--delete", "--allow-many", "--min-age", "0"]):
        assert main(argv) == 3
        assert "empty (0 bytes)" in capsys.readouterr().err
    assert files_in(env) == stored
    assert (env.data_dir / "pictune.db").stat().st_size == 0  # not quietly recreated


def test_a_database_that_knows_none_of_the_files_is_refused(
    env: Settings, capsys: pytest.CaptureFixture
) -> None:
    stored = fill(env, 20, age_s=2 * DAY)
    for name in ("pictune.db", "pictune.db-wal", "pictune.db-shm"):
        (env.data_dir / name).unlink(missing_ok=True)
    with Store.open(env, semantic=False):
        pass  # a fresh, empty database in its place
    assert main(["db", "gc", "--delete", "--allow-many", "--min-age", "0"]) == 3
    captured = capsys.readouterr()
    assert "knows none of the" in captured.err and "Nothing was deleted" in captured.err
    assert files_in(env) == stored


def test_a_database_newer_than_the_files_is_refused(
    env: Settings, capsys: pytest.CaptureFixture
) -> None:
    """Reset, then used for a while: it knows its new pieces, not the old ones."""
    old = fill(env, 20, age_s=3 * DAY)
    for name in ("pictune.db", "pictune.db-wal", "pictune.db-shm"):
        (env.data_dir / name).unlink(missing_ok=True)
    total = fill(env, 2, salt="new")
    assert total > old
    with Store.open(env, semantic=False) as store:
        plan = plan_gc(store.db, store.artifacts, min_age_s=3600)
    assert plan.refusal is not None and "newer than the files" in plan.refusal
    assert main(["db", "gc", "--delete", "--allow-many"]) == 3
    assert "looks newer than the files" in capsys.readouterr().err
    assert files_in(env) == total


def test_gc_lists_first_and_deletes_a_few_orphans_on_request(
    env: Settings, capsys: pytest.CaptureFixture
) -> None:
    stored = fill(env, 20)
    with Store.open(env, semantic=False) as store:
        orphans = [store.artifacts.put(f"killed before commit {i}".encode()) for i in range(2)]
    assert main(["db", "gc", "--min-age", "0"]) == 0  # a dry run by default
    out = capsys.readouterr().out
    assert f"2 of {stored + 2} stored file(s)" in out and "--delete" in out
    assert str(orphans[0].rel_path) in out or orphans[0].sha256 in out
    assert files_in(env) == stored + 2
    assert main(["db", "gc", "--delete", "--min-age", "0"]) == 0
    assert "Removed 2 unused file(s)." in capsys.readouterr().out
    assert files_in(env) == stored


def test_deleting_many_needs_an_explicit_yes(env: Settings, capsys: pytest.CaptureFixture) -> None:
    stored = fill(env, 3)
    with Store.open(env, semantic=False) as store:
        for i in range(SMALL_COUNT + 1):
            store.artifacts.put(f"orphan {i}".encode())
    assert main(["db", "gc", "--delete", "--min-age", "0"]) == 3
    assert "add --allow-many" in capsys.readouterr().err
    assert files_in(env) == stored + SMALL_COUNT + 1
    assert main(["db", "gc", "--delete", "--allow-many", "--min-age", "0"]) == 0
    assert files_in(env) == stored


def test_a_share_above_ten_percent_is_many_even_if_few(env: Settings) -> None:
    fill(env, 1)
    with Store.open(env, semantic=False) as store:
        store.artifacts.put(b"one orphan")
        plan = plan_gc(store.db, store.artifacts, min_age_s=0)
    assert len(plan.orphans) == 1 and plan.share > 0.10 and plan.large


def test_doctor_calls_a_damaged_sqlite_file_damaged(env: Settings) -> None:
    fill(env, 2)
    db_file = env.data_dir / "pictune.db"
    data = bytearray(db_file.read_bytes())
    data[100:4096] = b"\xde\xad" * ((4096 - 100) // 2)  # the header's tail and the schema page
    db_file.write_bytes(bytes(data))
    check = doctor.check_database(env)
    assert check.status == doctor.FAIL
    assert "the database file is damaged" in check.message
    assert "restore it from a backup" in check.message
    assert "server" not in check.message + check.fix


def test_doctor_says_a_reset_database_looks_reset(env: Settings) -> None:
    fill(env, 2)
    (env.data_dir / "pictune.db").write_bytes(b"")
    check = doctor.check_database(env)
    assert check.status == doctor.FAIL and "looks reset" in check.message, check


def test_doctor_never_prints_a_password_from_the_query(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg2://bob@127.0.0.1:9/pictune?password=hunter2&connect_timeout=1"
    check = doctor.check_database(env.model_copy(update={"database_url": url}))
    assert check.status == doctor.FAIL
    assert "hunter2" not in check.message and "password=***" in check.message
