"""`pictune index build|info`: the retrieval index of corpus tunes (built once, then cached)."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from engine.config import get_settings
from engine.errors import InvalidOption
from engine.retrieve.index import IndexInfo, build_index, index_info

STAGE_WORDS = {
    "reading": "Reading the corpus",
    "describing": "Describing tunes",
    "loading model": "Loading the embedding model",
    "embedding": "Embedding descriptions",
    "writing": "Writing the index",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="build or inspect the corpus retrieval index")
    actions = p.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    build = actions.add_parser("build", help="build the index (once; it is cached)")
    build.add_argument("--force", action="store_true", help="rebuild even if it exists")
    build.add_argument("--limit", type=int, default=None, help="index only N tunes (a trial)")
    build.add_argument("--json", action="store_true", help="print the result as JSON")
    build.set_defaults(func=run_build)

    info = actions.add_parser("info", help="show what the index holds")
    info.add_argument("--json", action="store_true", help="print the result as JSON")
    info.set_defaults(func=run_info)


def _print_info(console: Console, info: IndexInfo) -> None:
    mib = info.size / 2**20
    console.print(f"[bold]Index[/bold]  {info.path}")
    console.print(
        f"  corpus      {info.corpus}" + (f" (a trial of {info.limit} tunes)" if info.limit else "")
    )
    console.print(f"  tunes       {info.tunes:,} ({info.skipped:,} skipped as unreadable)")
    console.print(f"  model       {info.model} ({info.dim} dimensions)")
    console.print(f"  described   {info.descriptions:,} distinct descriptions")
    console.print(f"  built       {info.built_at} in {info.seconds:.1f} s, {mib:.1f} MiB")


def run_build(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit <= 0:
        raise InvalidOption("--limit must be a positive number of tunes.")
    settings = get_settings()
    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("Starting", total=None)

        def progress(done: int, total: int, stage: str) -> None:
            bar.update(
                task,
                description=STAGE_WORDS.get(stage, stage),
                completed=done,
                total=total or None,
            )

        info = build_index(settings, progress=progress, force=args.force, limit=args.limit)
    if args.json:
        print(json.dumps(info.to_json(), indent=2))
    else:
        _print_info(Console(), info)
    return 0


def run_info(args: argparse.Namespace) -> int:
    settings = get_settings()
    info = index_info(settings)
    if info is None:
        if args.json:
            print("null")
        else:
            Console(stderr=True).print("No index yet: run `pictune index build`.")
        return 1
    if args.json:
        print(json.dumps(info.to_json(), indent=2))
    else:
        _print_info(Console(), info)
    return 0
