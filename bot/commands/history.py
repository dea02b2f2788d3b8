"""`pictune history`, `show`, `search`, `delete`: the local history of composed pieces.

The CLI is the "local" workspace; pieces recorded by `pictune compose` belong to the user
running it. Its operator owns the database, so the CLI may delete any local piece.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from engine.config import get_settings
from storage.store import GenerationView, Store

WORKSPACE = "local"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="list recorded pieces, newest first")
    p.add_argument("--user", default=None, help="only this user's pieces")
    p.add_argument("--channel", default=None, help=argparse.SUPPRESS)
    p.add_argument("--limit", type=int, default=20, help="how many (default 20, at most 100)")
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
    p.add_argument("--limit", type=int, default=10, help="how many (default 10)")
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
    caption = (view.caption or "").replace("\n", " ")
    if len(caption) > 60:
        caption = caption[:59] + "…"
    tag = f" [{view.match}]" if view.match else ""
    return f"{view.id}  {when}  {view.mode:<8}  seed {view.seed}  {caption}{tag}"


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
    _print_list(views, args.json, "No pieces yet: compose one with `pictune compose IMAGE`.")
    return 0


def run_show(args: argparse.Namespace) -> int:
    with _open() as store:
        view = store.get(args.id, workspace=WORKSPACE, user_id=_user())
        written: dict[str, Path] = {}
        if args.out is not None:
            written = store.export_files(
                view.id, args.out, workspace=WORKSPACE, user_id=_user(), include_source=args.source
            )
    if args.json:
        data = view_dict(view) | {"written": {k: str(v) for k, v in written.items()}}
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print(f"{view.id}  ({view.status}, {view.visibility})  by {view.user_name or view.user_id}")
    print(
        f"  made     {view.created_at.astimezone():%Y-%m-%d %H:%M}, mode {view.mode}, seed {view.seed}"
    )
    if view.parent_id:
        print(f"  rerun of {view.parent_id}")
    if view.hint:
        print(f"  hint     {view.hint}")
    if view.caption:
        print(f"  image    {view.caption}")
    if view.description:
        print(f"  music    {view.description}")
    if view.error:
        print(f"  error    {view.error}")
    if view.motivation:
        print("\n" + view.motivation.strip() + "\n")
    if written:
        print(f"Files written to {args.out}/:")
        for path in written.values():
            print(f"  {path}")
    elif view.files:
        print("Files: " + ", ".join(view.files) + "  (use --out DIR to get them)")
    return 0


def run_search(args: argparse.Namespace) -> int:
    text = " ".join(args.text)
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
