"""`pictune compose IMAGE`: one piece from one picture, written to a folder."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from rich.console import Console

from engine.config import get_settings
from engine.errors import InputError
from engine.pipeline import Pipeline
from engine.types import MODES, ComposeRequest, Composition, ProgressEvent


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compose", help="compose music from an image")
    p.add_argument("image", type=Path, help="PNG, JPEG, WebP, GIF, TIFF or BMP")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: ./out/ID)")
    p.add_argument("--seed", type=int, default=None, help="same image + seed = same piece")
    p.add_argument("--hint", default=None, help='a wish in words, e.g. "sad piano", "faster"')
    p.add_argument("--duration", type=float, default=None, help="seconds (default 30)")
    p.add_argument("--mode", choices=MODES, default=None, help="default: symbolic")
    p.add_argument("--rounds", type=int, default=None, help="refinement rounds (default 3)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-history", action="store_true", help="do not record in the history")
    p.set_defaults(func=run)


def read_image_file(path: Path, max_bytes: int) -> bytes:
    """Read an image path without trusting it: missing, a folder, or too big are user errors."""
    if not path.exists():
        raise InputError(f"There is no file at {path}.")
    if not path.is_file():
        raise InputError(f"{path} is not a file: give the path of an image.")
    if path.stat().st_size > max_bytes:
        raise InputError(f"That image is too large: send one up to {max_bytes // 2**20} MB.")
    return path.read_bytes()


def write_files(composition: Composition, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, data in composition.files().items():
        path = out / name
        path.write_bytes(data)
        paths[name] = path
    result = out / "result.json"
    result.write_text(json.dumps(composition.summary(), indent=2, ensure_ascii=False))
    paths["result.json"] = result
    return paths


def _record(composition: Composition, image: bytes) -> str | None:
    """Keep the piece in the history; None when the history layer is not available."""
    try:
        from storage.store import Origin, Store
    except ImportError:
        return None
    store = Store.open(get_settings())
    return store.record(
        composition, Origin(platform="cli", user_id=getpass.getuser()), source_image=image
    )


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    console = Console(stderr=True)
    image = read_image_file(args.image, settings.max_image_bytes)
    request = ComposeRequest(
        image=image,
        hint=args.hint,
        duration=args.duration if args.duration is not None else settings.duration,
        mode=args.mode or settings.mode,
        seed=args.seed,
        refine_rounds=args.rounds,
        filename=args.image.name,
    )
    pipeline = Pipeline(settings)
    quiet = args.json or not console.is_terminal
    with console.status("starting", spinner="dots") as status:

        def progress(event: ProgressEvent) -> None:
            if quiet:
                return
            step = (
                f" ({event.step}/{event.total})" if event.total and event.stage == "index" else ""
            )
            status.update(f"{event.message}{step}")

        composition = pipeline.run(request, progress)

    gen_id = None if args.no_history else _record(composition, image)
    out = args.out or Path("out") / (gen_id or f"seed-{composition.seed}")
    paths = write_files(composition, out)

    if args.json:
        data = composition.summary() | {
            "id": gen_id,
            "files": {k: str(v) for k, v in paths.items()},
        }
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    brief = composition.brief
    print(f"Pictune composed {gen_id or 'a piece'}: {composition.perception.caption}")
    print(
        f"  {brief.genre}, {brief.key} {brief.mode}, {brief.meter}, {brief.tempo} bpm, "
        f"{', '.join(brief.instruments)}; {composition.audio_seconds:.0f} s, "
        f"seed {composition.seed}, {sum(composition.timings.values()):.2f} s to make"
    )
    print(f"Files in {out}/:")
    for path in paths.values():
        print(f"  {path}")
    return 0
