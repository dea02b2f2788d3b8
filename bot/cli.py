"""The `pictune` command. Each subcommand lives in its own module under bot/commands/.

Every subcommand module has ``register(subparsers)`` which adds its parser and sets
``func`` to a function taking the parsed args and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from engine.errors import PictuneError

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
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
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
