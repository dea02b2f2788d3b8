"""`pictune doctor`: is this deployment able to compose? Each check says what is wrong and
what to do; the exit code is non-zero when something essential is broken.

Checks: configuration, data folder (writable), SoundFont (a real one, and FluidSynth),
database (reachable, schema current; a SQLite file passes ``PRAGMA quick_check`` and is not
an empty file beside a full store), retrieval index (its files match their checksums), model references (parsed; loaded with --load), job queue (Redis for
Celery), and which platform tokens are present (never their values).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from bot.slack.mode import plain, slack_missing
from engine.backends import EMBEDDED
from engine.config import Settings, describe_error, get_settings
from engine.errors import PictuneError
from engine.render.audio import is_soundfont

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Check:
    name: str
    status: str  # ok | warn | FAIL
    message: str
    fix: str = ""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the configuration and say what to fix")
    p.add_argument("--load", action="store_true", help="also load configured model weights")
    p.set_defaults(func=run)


def check_config() -> tuple[Settings | None, Check]:
    try:
        get_settings.cache_clear()
        settings = get_settings()
    except Exception as exc:  # a bad value, or a .env that cannot be read
        if isinstance(exc, ValidationError):
            what = describe_error(exc)
        else:
            what = f"the settings cannot be read ({type(exc).__name__}): check the .env file here"
        return None, Check(
            "configuration",
            FAIL,
            what,
            "fix the variable in the environment or .env (see .env.example)",
        )
    return settings, Check("configuration", OK, "settings read (environment and .env)")


def check_data_dir(settings: Settings) -> Check:
    """The history's files (and a SQLite database) live here: it must be a writable folder."""
    folder = settings.data_dir
    fix = "set PICTUNE_DATA_DIR to a folder this user can write"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".pictune-doctor-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return Check("data dir", FAIL, f"{folder}: cannot write there ({reason})", fix)
    return Check("data dir", OK, str(folder))


def check_soundfont(settings: Settings) -> Check:
    found = settings.resolved_soundfont()
    if found is None:
        where = f"{settings.soundfont} does not exist" if settings.soundfont else "none found"
        return Check(
            "soundfont",
            FAIL,
            f"no General MIDI SoundFont: {where}",
            "apt-get install fluid-soundfont-gm, or set PICTUNE_SOUNDFONT to an .sf2 file",
        )
    if not is_soundfont(found):
        return Check(
            "soundfont",
            FAIL,
            f"{found} is not a SoundFont (.sf2 or .sf3) file, or cannot be read",
            "set PICTUNE_SOUNDFONT to an .sf2 file, or unset it to use the system one",
        )
    if importlib.util.find_spec("fluidsynth") is None:
        return Check(
            "soundfont",
            FAIL,
            f"{found}, but pyfluidsynth is not installed",
            "pip install pyfluidsynth (and apt-get install libfluidsynth3)",
        )
    return Check("soundfont", OK, str(found))


def check_database(settings: Settings) -> Check:
    from sqlalchemy.engine import make_url

    from bot.commands.db import safe_url
    from storage import migrate
    from storage.db import Database, sqlite_path

    url = settings.resolved_database_url()
    shown = safe_url(url)  # never the password, in the userinfo or in ?password=
    try:
        make_url(url)
    except Exception:
        return Check(
            "database",
            FAIL,
            "PICTUNE_DATABASE_URL is not a database URL",
            "use sqlite:///path/pictune.db or postgresql+psycopg2://user:pw@host/db",
        )
    path = sqlite_path(url)
    if path is not None:
        damage = sqlite_damage(path)
        if damage:
            return Check(
                "database",
                FAIL,
                f"{shown}: the database file is damaged ({damage}): restore it from a backup",
                "stop Pictune, put the last good copy of the file back, then start it again",
            )
        # Before connecting: opening an empty file makes it a database (and may replay a WAL).
        reset = sqlite_reset(path, settings)
        if reset:
            return Check("database", FAIL, f"{shown}: {reset}", "restore it from a backup")
    db = None
    if url.startswith("sqlite"):
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return Check(
                "database",
                FAIL,
                f"{shown}: its folder cannot be created ({exc.strerror or type(exc).__name__})",
                "set PICTUNE_DATA_DIR (or PICTUNE_DATABASE_URL) to a place this user can write",
            )
    try:
        db = Database(url)
        state = migrate.schema_state(db)
    except Exception as exc:
        return Check(
            "database",
            FAIL,
            f"{shown}: cannot connect ({type(exc).__name__})",
            "check PICTUNE_DATABASE_URL and that the database server runs",
        )
    finally:
        if db is not None:
            db.dispose()
    if not state.known:
        return Check(
            "database",
            FAIL,
            f"{shown}: schema {state.current} is newer than this Pictune",
            "upgrade Pictune",
        )
    if not state.up_to_date:
        if url.startswith("sqlite"):
            return Check(
                "database",
                OK,
                f"{shown}: schema {state.current or 'empty'}, "
                "upgraded automatically when Pictune starts",
            )
        return Check(
            "database",
            FAIL,
            f"{shown}: schema {state.current or 'empty'}, needs {state.head}",
            "run `pictune db upgrade`",
        )
    return Check("database", OK, f"{shown} (schema {state.current})")


def sqlite_damage(path: Path) -> str | None:
    """Why the SQLite file at ``path`` is damaged (``PRAGMA quick_check``), or None when it
    is sound or absent. Opened read-only: looking must neither create nor repair it."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as con:
            rows = [str(r[0]) for r in con.execute("PRAGMA quick_check").fetchmany(3)]
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"...
        return str(exc)
    if rows == ["ok"]:
        return None
    return "; ".join(rows)[:200] or "quick_check found problems"


def sqlite_reset(path: Path, settings: Settings) -> str | None:
    """A SQLite file that is empty (0 bytes, or no pieces) beside a store full of files was
    reset or replaced: say so, before `db gc` or anyone else takes it at its word."""
    files = settings.data_dir / "artifacts"
    has_files = files.is_dir() and any(files.glob("??/??/*"))
    if not has_files:
        return None
    if not path.exists() or path.stat().st_size == 0:
        return (
            "the database file is missing or empty, but the data folder holds pieces' files: "
            "it looks reset"
        )
    return None


def check_index(settings: Settings) -> Check:
    if settings.retrieve != EMBEDDED["retrieve"]:
        return Check("index", OK, f"{settings.retrieve}: checked with the model references")
    try:
        from engine.retrieve.index import index_damage, index_info

        info = index_info(settings)
        damage = index_damage(info) if info is not None else []
    except Exception as exc:
        return Check(
            "index",
            WARN,
            f"cannot read the tune library index ({type(exc).__name__})",
            "run `pictune index build`",
        )
    if info is None:
        return Check(
            "index",
            WARN,
            "the tune library index is not built yet (the first piece builds it, a minute or more)",
            "run `pictune index build`",
        )
    if damage:
        # info.json alone said "ok" before: the data files are what compose reads.
        return Check(
            "index",
            WARN,
            f"the tune library index is damaged ({'; '.join(damage)}); "
            "the next piece rebuilds it (a minute or more)",
            "run `pictune index build` now",
        )
    unverified = "" if info.checksums else " (no checksums: built by an older Pictune)"
    return Check("index", OK, f"{info.tunes} tunes, built {info.built_at[:10]}{unverified}")


def check_models(settings: Settings, load: bool) -> list[Check]:
    from engine.backends import STAGE_SETTINGS
    from engine.stage_check import check_stage
    from engine.weights import parse_ref

    out: list[Check] = []
    for stage, setting in STAGE_SETTINGS.items():
        reference = getattr(settings, setting)
        var = f"PICTUNE_{setting.upper()}"
        if not reference:
            continue
        try:
            ref = parse_ref(reference, setting)
        except PictuneError as exc:
            out.append(
                Check(
                    f"model {stage}",
                    FAIL,
                    exc.detail or exc.user_message,
                    f"fix {var} (see .env.example)",
                )
            )
            continue
        if load and ref.kind != "builtin":
            ok, message = check_stage(settings, stage)
            out.append(
                Check(
                    f"model {stage}",
                    OK if ok else FAIL,
                    message,
                    "" if ok else f"fix {var} or make its weights available",
                )
            )
        else:
            hint = "" if ref.kind == "builtin" or ref.local else "(not loaded; use --load)"
            out.append(Check(f"model {stage}", OK, f"{ref.short} {hint}".strip()))
    return out


def check_queue(settings: Settings) -> Check:
    if settings.queue == "local":
        return Check(
            "queue", OK, f"embedded, {settings.concurrency} {settings.worker_mode} worker(s)"
        )
    if settings.queue != "celery":
        return Check("queue", FAIL, f"PICTUNE_QUEUE={settings.queue!r}", "use local or celery")
    try:
        import redis

        redis.Redis.from_url(settings.redis_url, socket_timeout=3).ping()
    except Exception as exc:
        return Check(
            "queue",
            FAIL,
            f"Redis unreachable ({type(exc).__name__})",
            "check PICTUNE_REDIS_URL and that redis-server runs",
        )
    return Check("queue", OK, "celery, Redis reachable")


def check_tokens(settings: Settings) -> Check:
    names = {
        "DISCORD_TOKEN": settings.discord_token,
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_APP_TOKEN": settings.slack_app_token,
        "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
        "SLACK_CLIENT_ID": settings.slack_client_id,
        "SLACK_CLIENT_SECRET": settings.slack_client_secret,
    }
    present = [name for name, value in names.items() if plain(value)]
    missing = [name for name in names if name not in present]
    if not present:
        return Check(
            "tokens",
            WARN,
            "no platform token set: only the CLI works",
            "set DISCORD_TOKEN and/or SLACK_BOT_TOKEN (+ SLACK_APP_TOKEN), see docs/slack.md",
        )
    slack_started = any(name.startswith("SLACK_") for name in present)
    slack_gap = slack_missing(settings) if slack_started else None
    if slack_gap:
        return Check("tokens", WARN, f"set: {', '.join(present)}", f"Slack: {slack_gap}")
    return Check("tokens", OK, f"set: {', '.join(present)}; not set: {', '.join(missing) or '-'}")


def run_checks(load: bool = False) -> list[Check]:
    settings, config = check_config()
    checks = [config]
    if settings is None:
        return checks
    steps: list[Callable[[], Check | list[Check]]] = [
        lambda: check_data_dir(settings),
        lambda: check_soundfont(settings),
        lambda: check_database(settings),
        lambda: check_index(settings),
        lambda: check_models(settings, load),
        lambda: check_queue(settings),
        lambda: check_tokens(settings),
    ]
    for step in steps:
        try:
            result = step()
        except Exception as exc:  # a check must never crash the doctor
            result = Check(getattr(step, "__name__", "check"), FAIL, type(exc).__name__)
        checks.extend(result if isinstance(result, list) else [result])
    return checks


def run(args: argparse.Namespace) -> int:
    checks = run_checks(load=getattr(args, "load", False))
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{c.status:>4}  {c.name:<{width}}  {c.message}")
        if c.fix and c.status != OK:
            print(f"{'':>4}  {'':<{width}}  -> {c.fix}")
    failed = [c for c in checks if c.status == FAIL]
    print(f"\n{len(failed)} problem(s) to fix." if failed else "\nPictune is ready.")
    return 1 if failed else 0
