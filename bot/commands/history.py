"""`pictune history`, `show`, `search`, `delete`: the local history of composed pieces.

The CLI is the "local" workspace; pieces recorded by `pictune compose` belong to the user
running it. Its operator owns the database, so the CLI may delete any local piece.
"""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import sys
import unicodedata
from pathlib import Path
from typing import Any

from bot.commands.outdir import cannot_write, check_out_dir, new_staging, publish
from engine.config import get_settings
from engine.errors import InvalidOption
from storage.store import GenerationView, Store

WORKSPACE = "local"
MAX_LIMIT = 100  # the history pages and search results the store returns at most


def limit_value(text: str) -> int:
    """--limit: a whole number from 1 to MAX_LIMIT (argparse reports the message, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"use a number from 1 to {MAX_LIMIT}")
    return value


def plain(text: str | None, *, lines: bool = False) -> str:
    """Text from the history as it may be printed: control characters (an escape sequence
    in a hint from a chat, say) become spaces, so they cannot drive the terminal.
    ``lines`` keeps line breaks (the motivation is Markdown)."""
    keep = "\n" if lines else ""
    return "".join(
        ch if ch in keep or unicodedata.category(ch) != "Cc" else " " for ch in (text or "")
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="list recorded pieces, newest first")
    p.add_argument("--user", default=None, help="only this user's pieces")
    p.add_argument("--channel", default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--limit", type=limit_value, default=20, help=f"how many (default 20, at most {MAX_LIMIT})"
    )
    p.add_argument("--before", default=None, help="page: pieces older than this id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_history)

    p = sub.add_parser("show", help="show one piece; --out re-exports its files")
    p.add_argument("id", help="the piece's id, e.g. pt-7f3a2c")
    p.add_argument("--out", type=Path, default=None, help="write its files into this folder")
    p.add_argument("--source", action="store_true", help="with --out: the original picture too")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_show)

    p = sub.add_parser("search", help="find pieces by words of their caption, brief or motivation")
    p.add_argument("text", nargs="+", help="words to look for")
    p.add_argument(
        "--limit", type=limit_value, default=10, help=f"how many (default 10, at most {MAX_LIMIT})"
    )
    p.add_argument(
        "--no-semantic", action="store_true", help="words only (skips loading the embedding model)"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_search)

    p = sub.add_parser("delete", help="delete a piece and the files no other piece uses")
    p.add_argument("id", help="the piece's id, e.g. pt-7f3a2c")
    p.set_defaults(func=run_delete)


def _user() -> str:
    return getpass.getuser()


def _open(*, semantic: bool = False) -> Store:
    return Store.open(get_settings(), semantic=semantic)


def view_dict(view: GenerationView) -> dict[str, Any]:
    return {
        "id": view.id,
        "created_at": view.created_at.isoformat(),
        "status": view.status,
        "user": view.user_name or view.user_id,
        "visibility": view.visibility,
        "mode": view.mode,
        "seed": view.seed,
        "hint": view.hint,
        "caption": view.caption,
        "description": view.description,
        "motivation": view.motivation,
        "metrics": view.metrics,
        "parent_id": view.parent_id,
        "favourites": view.favourites,
        "files": {name: str(path) for name, path in view.files.items()},
        "match": view.match,
    }


def one_line(view: GenerationView) -> str:
    when = view.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
    caption = " ".join(plain(view.caption).split())
    if len(caption) > 60:
        caption = caption[:59] + "…"
    tag = f" [{view.match}]" if view.match else ""
    return f"{view.id}  {when}  {plain(view.mode):<8}  seed {view.seed}  {caption}{tag}"


def _print_list(views: list[GenerationView], as_json: bool, empty: str) -> None:
    if as_json:
        json.dump([view_dict(v) for v in views], sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif not views:
        print(empty)
    else:
        for view in views:
            print(one_line(view))


def run_history(args: argparse.Namespace) -> int:
    with _open() as store:
        views = store.history(
            workspace=WORKSPACE,
            user_id=args.user,
            channel=args.channel,
            limit=args.limit,
            before=args.before,
            viewer_id=_user(),
        )
    if args.user is not None or args.before is not None:
        empty = "No pieces " + ("by that user." if args.before is None else "before that one.")
    else:
        empty = "No pieces yet: compose one with `pictune compose IMAGE`."
    _print_list(views, args.json, empty)
    return 0


def run_show(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_out_dir(args.out)
    with _open() as store:
        view = store.get(args.id, workspace=WORKSPACE, user_id=_user())
        written: dict[str, Path] = {}
        if args.out is not None:
            written = _export(store, view.id, args.out, include_source=args.source)
    if args.json:
        data = view_dict(view) | {"written": {k: str(v) for k, v in written.items()}}
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    who = plain(view.user_name or view.user_id)
    print(f"{view.id}  ({view.status}, {view.visibility})  by {who}")
    print(
        f"  made     {view.created_at.astimezone():%Y-%m-%d %H:%M}, "
        f"mode {plain(view.mode)}, seed {view.seed}"
    )
    if view.parent_id:
        print(f"  rerun of {view.parent_id}")
    for label, text in (
        ("hint", view.hint),
        ("image", view.caption),
        ("music", view.description),
        ("error", view.error),
    ):
        if text:
            print(f"  {label:<8} {' '.join(plain(text).split())}")
    if view.motivation:
        print("\n" + plain(view.motivation, lines=True).strip() + "\n")
    if written:
        print(f"Files written to {args.out}/:")
        for path in written.values():
            print(f"  {path}")
    elif view.files:
        print("Files: " + ", ".join(view.files) + "  (use --out DIR to get them)")
    return 0


def _export(store: Store, gen_id: str, out: Path, *, include_source: bool) -> dict[str, Path]:
    """store.export_files, all or nothing: into a staging folder, then into place."""
    staging = new_staging(out.parent)
    try:
        staged = store.export_files(
            gen_id, staging, workspace=WORKSPACE, user_id=_user(), include_source=include_source
        )
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise cannot_write(out, exc) from None
        raise
    return publish(staging, list(staged), out)


def run_search(args: argparse.Namespace) -> int:
    text = " ".join(" ".join(args.text).split())
    if not any(ch.isalnum() for ch in text):
        raise InvalidOption("Give some words to search for, e.g. pictune search sunset piano.")
    with _open(semantic=not args.no_semantic) as store:
        views = store.search(
            text,
            workspace=WORKSPACE,
            user_id=_user(),
            limit=args.limit,
            semantic=not args.no_semantic,
        )
    _print_list(views, args.json, f"Nothing found for {text!r}.")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    with _open() as store:
        view = store.get(args.id, workspace=WORKSPACE, user_id=_user())
        store.delete(view.id, by_user=_user(), is_admin=True, workspace=WORKSPACE)
    print(f"Deleted {view.id}.")
    return 0
