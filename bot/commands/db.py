"""`pictune db upgrade | info | gc`: the history database's schema and upkeep.

An embedded SQLite database is upgraded automatically when Pictune opens it; a PostgreSQL
one (PICTUNE_DATABASE_URL) only by `pictune db upgrade`.
"""

from __future__ import annotations

import argparse
import re
from urllib.parse import parse_qsl, quote, urlsplit

from engine.config import get_settings
from storage import migrate
from storage.artifacts import ArtifactStore
from storage.db import Database, sqlite_path
from storage.gc import (
    SMALL_COUNT,
    SMALL_SHARE,
    GcPlan,
    GcRefused,
    collect,
    database_file_problem,
    plan_gc,
)
from storage.store import Store

LISTED = 10  # files named by a listing without --all


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="history database: upgrade, info, gc")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="bring the database schema up to date")
    up.set_defaults(func=run_upgrade)
    info = dbsub.add_parser("info", help="where the history is and what it holds")
    info.set_defaults(func=run_info)
    gc = dbsub.add_parser(
        "gc",
        help="remove files no piece uses any more (lists them; --delete removes them)",
        description=(
            "Lists the files no piece refers to. With --delete they are removed, unless the "
            "database looks reset (it knows none of the files, or is newer than them), and "
            f"more than {SMALL_COUNT} files or {SMALL_SHARE:.0%} of the store also needs "
            "--allow-many."
        ),
    )
    gc.add_argument(
        "--min-age", type=float, default=3600.0, help="spare files younger than this (seconds)"
    )
    gc.add_argument("--delete", action="store_true", help="remove them (default: only list)")
    gc.add_argument(
        "--allow-many",
        action="store_true",
        help=f"allow removing more than {SMALL_COUNT} files or {SMALL_SHARE:.0%} of the store",
    )
    gc.add_argument("--all", action="store_true", help="list every file, not only the first")
    gc.set_defaults(func=run_gc)


MASK = "***"
# Query parameters (and libpq key=value words) whose values are secrets.
SECRET_WORDS = re.compile(r"pass|pwd|secret|token|key|auth|credential|signature", re.IGNORECASE)
DSN_PAIR = re.compile(r"(\b[\w.-]+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def safe_url(url: str) -> str:
    """A database (or Redis) URL fit to print: the userinfo password and every secret-looking
    query parameter (``?password=``, ``sslpassword``, ``token``, ``secret``, ``key``...)
    masked. A libpq ``key=value`` string is masked the same way; anything unparseable is
    shown as its scheme only, since it may be all secret."""
    text = str(url).strip()
    if "://" not in text:
        if "=" in text:  # "host=db password=x": the libpq keyword form
            return DSN_PAIR.sub(
                lambda m: f"{m.group(1)}={MASK}" if SECRET_WORDS.search(m.group(1)) else m.group(0),
                text,
            )
        return text
    try:
        parts = urlsplit(text)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
        query = "&".join(
            f"{quote(k, safe='')}={MASK if SECRET_WORDS.search(k) else quote(v, safe='/:,')}"
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        )
        # Put together by hand: urlunsplit would turn sqlite:////abs/path into sqlite://abs/path.
        return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
    except ValueError:
        return text.split("://", 1)[0] + "://" + MASK


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
    settings = get_settings()
    if args.min_age < 0:
        raise GcRefused("--min-age must be zero or more seconds.")
    # Before opening: Store.open would quietly create an empty database in place of a lost one.
    problem = database_file_problem(
        sqlite_path(settings.resolved_database_url()),
        ArtifactStore(settings.data_dir / "artifacts"),
    )
    if problem:
        raise GcRefused(f"Nothing was deleted: {problem}. Restore the database from a backup.")
    with Store.open(settings, semantic=False) as store:
        plan = plan_gc(store.db, store.artifacts, min_age_s=args.min_age)
        if not plan.orphans and not plan.stale_tmp:
            print("Removed 0 unused file(s): every stored file belongs to a piece.")
            return 0
        _print_plan(plan, store.artifacts, every=args.all)
        if plan.refusal:
            raise GcRefused(
                f"Nothing was deleted: {plan.refusal}. Restore the database from a backup."
            )
        if not args.delete:
            more = " --allow-many" if plan.large else ""
            print(f"Nothing deleted yet: run `pictune db gc --delete{more}` to remove them.")
            return 0
        removed = collect(
            store.db,
            store.artifacts,
            plan,
            min_age_s=args.min_age,
            allow_many=args.allow_many,
        )
    print(f"Removed {removed} unused file(s).")
    return 0


def _print_plan(plan: GcPlan, artifacts: ArtifactStore, *, every: bool) -> None:
    print(
        f"{len(plan.orphans)} of {plan.stored} stored file(s) ({plan.share:.0%}, "
        f"{plan.orphan_bytes / 2**20:.1f} MiB) belong to no piece; "
        f"{plan.stale_tmp} stale temporary file(s)."
    )
    shown = plan.orphans if every else plan.orphans[:LISTED]
    for sha in shown:
        print(f"  {artifacts.path(sha)}")
    if len(shown) < len(plan.orphans):
        print(f"  ... and {len(plan.orphans) - len(shown)} more (--all lists them)")
