"""`pictune db upgrade | info | gc`: the history database's schema and upkeep.

An embedded SQLite database is upgraded automatically when Pictune opens it; a PostgreSQL
one (PICTUNE_DATABASE_URL) only by `pictune db upgrade`.
"""

from __future__ import annotations

import argparse

from sqlalchemy.engine import make_url

from engine.config import get_settings
from storage import migrate
from storage.db import Database, sqlite_path
from storage.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="history database: upgrade, info, gc")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="bring the database schema up to date")
    up.set_defaults(func=run_upgrade)
    info = dbsub.add_parser("info", help="where the history is and what it holds")
    info.set_defaults(func=run_info)
    gc = dbsub.add_parser("gc", help="remove files no piece uses any more")
    gc.add_argument(
        "--min-age", type=float, default=3600.0, help="spare files younger than this (seconds)"
    )
    gc.set_defaults(func=run_gc)


def safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    return make_url(url).render_as_string(hide_password=True)


def run_upgrade(args: argparse.Namespace) -> int:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url())
    try:
        before = migrate.schema_state(db)
        after = migrate.upgrade(db)
    finally:
        db.dispose()
    if before.current == after.current:
        print(f"The database is up to date (revision {after.current}).")
    else:
        print(f"Upgraded the database from {before.current or 'empty'} to {after.current}.")
    return 0


def run_info(args: argparse.Namespace) -> int:
    settings = get_settings()
    url = settings.resolved_database_url()
    path = sqlite_path(url)
    if path is not None and not path.exists():
        # Looking must not create: a missing SQLite file stays missing.
        print(f"database   {safe_url(url)}")
        print("schema     none yet (the first piece creates it, or `pictune db upgrade`)")
        print(f"data dir   {settings.data_dir}")
        return 0
    db = Database(url)
    try:
        state = migrate.schema_state(db)
    finally:
        db.dispose()
    print(f"database   {safe_url(url)}")
    print(f"schema     {state.current or 'empty'} (this Pictune: {state.head})")
    print(f"data dir   {settings.data_dir}")
    if not state.up_to_date:
        print("The schema is not current: run `pictune db upgrade`.")
        return 0
    with Store.open(settings, semantic=False, auto_upgrade=False) as store:
        files = list(store.artifacts.stored())
        size = sum(store.artifacts.path(sha).stat().st_size for sha in files)
        print(f"pieces     {store.count(status='done')} done, {store.count()} in all")
        print(f"files      {len(files)}, {size / 2**20:.1f} MiB")
    return 0


def run_gc(args: argparse.Namespace) -> int:
    with Store.open(get_settings(), semantic=False) as store:
        removed = store.collect_garbage(min_age_s=args.min_age)
    print(f"Removed {removed} unused file(s).")
    return 0
