"""`pictune index build|info|import`: the retrieval index of corpus tunes (built once, then
cached), and importing captioned MIDI files (MidiCaps) as a corpus folder to index."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from bot.commands.outdir import check_out_dir
from engine.config import get_settings
from engine.errors import InvalidOption
from engine.retrieve.index import IndexInfo, build_index, index_damage, index_info
from engine.retrieve.midi_import import DEFAULT_BARS, ImportResult, import_midi_folder

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

    imp = actions.add_parser(
        "import",
        help="turn a folder of captioned MIDI files (MidiCaps) into a corpus folder",
        description=(
            "Convert the melody of each MIDI file to ABC and keep its caption. Captions come "
            "from --captions, else train.json, captions.jsonl or captions.csv in SOURCE_DIR "
            "(rows with location or file, and caption), else a .txt file next to each MIDI file."
        ),
    )
    imp.add_argument("source", metavar="SOURCE_DIR", help="the folder holding the MIDI files")
    imp.add_argument("--out", required=True, metavar="CORPUS_DIR", help="where to write tunes")
    imp.add_argument("--captions", metavar="FILE", help="JSON Lines, JSON or CSV captions file")
    imp.add_argument("--limit", type=int, default=None, help="import at most N tunes")
    imp.add_argument(
        "--bars",
        type=int,
        default=DEFAULT_BARS,
        help=f"bars of melody kept (default {DEFAULT_BARS})",
    )
    imp.add_argument("--json", action="store_true", help="print the result as JSON")
    imp.set_defaults(func=run_import)


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
    existing = index_info(settings)
    damage = index_damage(existing) if existing is not None and not args.force else []
    if damage:
        # build_index rebuilds it too; say why this build is not the no-op it usually is.
        console.print(f"The index is damaged ({'; '.join(damage)}): rebuilding it.", markup=False)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as bar:
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


def _print_import(result: ImportResult) -> None:
    # Plain print: paths are the operator's own and may hold characters rich reads as markup.
    uncaptioned = f" ({result.uncaptioned:,} without a caption)" if result.uncaptioned else ""
    print(f"Imported {result.imported:,} tunes into {result.out}{uncaptioned}.")
    if result.skipped:
        print(f"Skipped {sum(result.skipped.values()):,}:")
        for reason, count in result.skipped.most_common():
            print(f"  {reason:<20} {count:,}")
    if result.imported:
        print(f"Next: set PICTUNE_CORPUS={result.out} and run `pictune index build`")
        print("(add --force if this folder was indexed before).")


def run_import(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit <= 0:
        raise InvalidOption("--limit must be a positive number of tunes.")
    columns = (
        TextColumn("Importing MIDI files"),
        TextColumn("{task.completed:,} tunes"),
        TimeElapsedColumn(),
    )
    out = Path(args.out)
    check_out_dir(out)
    console = Console(stderr=True)
    # No progress bar when stderr is not a terminal: it would leave an empty line there.
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as bar:
        task = bar.add_task("import", total=None)
        result = import_midi_folder(
            Path(args.source),
            out,
            captions_file=Path(args.captions) if args.captions else None,
            limit=args.limit,
            max_bars=args.bars,
            progress=lambda done, total, stage: bar.update(task, completed=done),
        )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        _print_import(result)
    return 0 if result.imported else 1
