"""The `pictune` command. Each subcommand lives in its own module under bot/commands/.

Every subcommand module has ``register(subparsers)`` which adds its parser and sets
``func`` to a function taking the parsed args and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pydantic import ValidationError

from engine.config import get_settings
from engine.errors import PictuneError
from engine.logging import configure_logging

# Order is the order shown in --help.
COMMAND_MODULES = (
    "bot.commands.compose",
    "bot.commands.history",
    "bot.commands.index",
    "bot.commands.db",
    "bot.commands.serve",
    "bot.commands.worker",
    "bot.commands.doctor",
)

LONG_RUNNING = frozenset({"serve", "worker"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pictune", description="Turn a picture into music.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # not written yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        if args.command == "doctor":  # the doctor reports a bad setting among its checks
            return int(args.func(args) or 0)
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        print(f"pictune: configuration error in {where}: {first.get('msg')}", file=sys.stderr)
        return 3
    # Services log what they do; one-shot commands only what went wrong.
    level = logging.DEBUG if args.verbose else None
    if level is None and args.command not in LONG_RUNNING:
        level = logging.WARNING
    configure_logging(settings, level=level)
    try:
        return int(args.func(args) or 0)
    except PictuneError as exc:
        # One line for the person at the terminal; details only with --verbose.
        logging.getLogger("pictune").debug("failed", exc_info=True)
        print(f"pictune: {exc.user_message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("pictune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
