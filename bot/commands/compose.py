"""`pictune compose IMAGE`: one piece from one picture, written to a folder.

Options are checked before anything slow happens. The files appear in the output folder all
together or not at all: they are written into a hidden staging folder beside it first, then
the piece is recorded in the history, then the files are moved into place. Ctrl-C or a
failure at any point leaves neither files nor a history entry behind.
"""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import signal
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bot.commands.outdir import cannot_write, check_out_dir, new_staging, publish, sweep_staging
from engine.config import MAX_REFINE_ROUNDS, get_settings
from engine.errors import (
    DatabaseDamaged,
    ImageTooLarge,
    InputError,
    InvalidOption,
    StorageFault,
    StorageFull,
    StorageReadOnly,
    too_large_message,
)
from engine.pipeline import Pipeline
from engine.types import MODES, ComposeRequest, Composition, ProgressEvent
from service import intake


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compose", help="compose music from an image")
    p.add_argument("image", type=Path, help="PNG, JPEG, WebP, GIF, TIFF or BMP")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: ./out/ID)")
    p.add_argument("--seed", type=seed_value, default=None, help="same image + seed = same piece")
    p.add_argument(
        "--hint",
        default=None,
        help=(
            f'a wish in words, e.g. "sad piano", "faster" (up to {intake.MAX_HINT_CHARS} '
            "characters)"
        ),
    )
    p.add_argument("--duration", type=seconds_value, default=None, help="seconds (default 30)")
    p.add_argument(
        "--mode",
        type=mode_value,
        default=None,
        metavar="{" + ",".join(MODES) + "}",
        help="default: symbolic",
    )
    p.add_argument(
        "--rounds",
        type=rounds_value,
        default=None,
        help=f"refinement rounds, 0 to {MAX_REFINE_ROUNDS} (default 3)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-history", action="store_true", help="do not record in the history")
    p.set_defaults(func=run)


# Option types: argparse turns ArgumentTypeError into "argument --x: <message>" and exit 2.
# The rule and the sentence are intake's (service/intake.py), the same as the bots'.


def _usage(check: Callable[[str], Any]) -> Callable[[str], Any]:
    """An intake check as an argparse type: its InvalidOption becomes a usage error."""

    def convert(text: str) -> Any:
        try:
            return check(text)
        except InvalidOption as exc:
            raise argparse.ArgumentTypeError(exc.user_message) from None

    convert.__name__ = check.__name__  # argparse names the type in some messages
    return convert


seconds_value = _usage(intake.duration_number)
seed_value = _usage(intake.check_seed)
rounds_value = _usage(intake.check_refine_rounds)
mode_value = _usage(intake.mode_name)


def read_image_file(path: Path, max_bytes: int) -> bytes:
    """Read an image path without trusting it: missing, not a plain file (a folder, a device,
    a pipe), unreadable or too big are user errors. Reads at most max_bytes + 1 bytes, so a
    file that grows (or lies about its size) cannot make us read without end."""
    too_large = ImageTooLarge(too_large_message(max_bytes))
    try:
        info = path.stat()  # follows symbolic links: a link to /dev/zero is a device
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path} is not a file: give the path of an image.")
        if info.st_size > max_bytes:
            raise too_large
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"There is no file at {path}.") from None
    except PermissionError:
        raise InputError(f"I may not read {path}: check its permissions.") from None
    except OSError as exc:
        raise InputError(f"I could not read {path}: {exc.strerror or 'read error'}.") from None
    if len(data) > max_bytes:
        raise too_large
    return data


def json_text(data: object) -> str:
    """JSON that any UTF-8 reader accepts: a path with bytes that are not UTF-8 (kept by
    Python as lone surrogates) is written as a \\uXXXX escape instead of raw bytes."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def stage_files(composition: Composition, folder: Path) -> tuple[Path, list[str]]:
    """Write every file of the piece (and result.json) into a new hidden folder inside
    ``folder``; publish() then moves them into place. Nothing is left behind on failure."""
    staging = new_staging(folder)
    try:
        files = composition.files()
        files["result.json"] = json.dumps(
            composition.summary(), indent=2, ensure_ascii=False
        ).encode()
        for name, data in files.items():
            (staging / name).write_bytes(data)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise cannot_write(folder, exc) from None
        raise
    return staging, list(files)


@contextmanager
def interrupts_noticed() -> Iterator[Callable[[], None]]:
    """Ctrl-C raises KeyboardInterrupt as usual, and is remembered: a C callback (soundfile's
    MP3 encoder, for one) swallows the exception and lets the work finish. The function this
    yields raises it again; call it before keeping anything. Python's "Exception ignored"
    report of a swallowed one is kept off the terminal."""
    pressed = threading.Event()

    def check() -> None:
        if pressed.is_set():
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield check
        return
    previous_handler = signal.getsignal(signal.SIGINT)
    previous_hook = sys.unraisablehook

    def on_sigint(signum: int, frame: object) -> None:
        pressed.set()
        raise KeyboardInterrupt

    def unraisable(info: Any) -> None:
        if not isinstance(info.exc_value, KeyboardInterrupt):
            previous_hook(info)

    signal.signal(signal.SIGINT, on_sigint)
    sys.unraisablehook = unraisable
    try:
        yield check
        check()
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        sys.unraisablehook = previous_hook


def _record(composition: Composition, image: bytes) -> str:
    from storage.store import Requester, Store

    settings = get_settings()
    try:
        with Store.open(settings) as store:
            return store.record(
                composition,
                Requester(platform="cli", user_id=getpass.getuser()),
                source_image=image,
            )
    except StorageFault as exc:
        raise for_terminal(exc, settings.data_dir) from exc


def for_terminal(fault: StorageFault, data_dir: Path) -> StorageFault:
    """At the terminal the person is the operator: say what to do, and where."""
    if isinstance(fault, StorageFull):
        return StorageFull(
            f"The disk holding Pictune's data ({data_dir}) is full: free some space and try "
            "again (or use --no-history). Nothing was kept."
        )
    if isinstance(fault, StorageReadOnly):
        return StorageReadOnly(
            f"Pictune's data ({data_dir}) is read-only: make it writable, or use --no-history."
        )
    if isinstance(fault, DatabaseDamaged):
        return DatabaseDamaged(
            f"The history database in {data_dir} is damaged: restore it from a backup "
            "(see docs/reliability.md), or use --no-history."
        )
    return fault


def _forget(gen_id: str) -> None:
    """Undo _record when the files could not be written (or Ctrl-C came in between)."""
    from storage.store import Store

    with Store.open(get_settings(), semantic=False) as store:
        store.delete(gen_id, by_user=getpass.getuser(), is_admin=True, workspace="local")


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    console = Console(stderr=True)
    hint = intake.check_hint(args.hint)
    mode = intake.check_mode(args.mode, settings)
    duration = intake.check_duration(args.duration, settings)
    if args.out is not None:
        check_out_dir(args.out)
    image = read_image_file(args.image, settings.max_image_bytes)
    intake.read_image(image, settings)  # a file that is no image: answered before any model
    request = ComposeRequest(
        image=image,
        hint=hint,
        duration=duration,
        mode=mode,  # type: ignore[arg-type]
        seed=args.seed,
        refine_rounds=args.rounds,
        filename=args.image.name,
    )
    pipeline = Pipeline(settings)
    quiet = args.json or not console.is_terminal
    with interrupts_noticed() as check_interrupt:
        with console.status("starting", spinner="dots") as status:

            def progress(event: ProgressEvent) -> None:
                if quiet:
                    return
                step = (
                    f" ({event.step}/{event.total})"
                    if event.total and event.stage == "index"
                    else ""
                )
                status.update(escape(f"{event.message}{step}"))

            composition = pipeline.run(request, progress)
        check_interrupt()  # Ctrl-C during the work: keep nothing

        # Files first (into a hidden folder), then the history, then the files into place:
        # a failure at any step leaves neither a half-written folder nor a history entry.
        out_parent = args.out.parent if args.out is not None else Path("out")
        sweep_staging(out_parent)  # copies left by a `pictune compose` that was killed
        staging, names = stage_files(composition, out_parent)
        gen_id: str | None = None
        try:
            if not args.no_history:
                gen_id = _record(composition, image)
            out = args.out or Path("out") / (gen_id or f"seed-{composition.seed}")
            check_interrupt()
            paths = publish(staging, names, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if gen_id is not None:
                _forget(gen_id)
            raise

    if args.json:
        data = composition.summary() | {
            "id": gen_id,
            "files": {k: str(v) for k, v in paths.items()},
        }
        print(json_text(data))
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
