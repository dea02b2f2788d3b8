"""The `pictune` command. Each subcommand lives in its own module under bot/commands/.

Every subcommand module has ``register(subparsers)`` which adds its parser and sets
``func`` to a function taking the parsed args and returning an exit code.

Whatever goes wrong, the person at the terminal gets one line on stderr and an exit code:
2 for a bad request (options, files, ids), 3 for a bad setting, 130 for Ctrl-C, 1 for
anything else (``--verbose`` adds the details).
"""

from __future__ import annotations

# Only the standard library up here: the heavy imports happen inside main(), where Ctrl-C
# is already turned into a quiet exit 130.
import argparse
import importlib
import logging
import os
import sys
from typing import NoReturn

# Order is the order shown in --help.
COMMAND_MODULES = (
    "bot.commands.compose",
    "bot.commands.history",
    "bot.commands.index",
    "bot.commands.db",
    "bot.commands.serve",
    "bot.commands.worker",
    "bot.commands.doctor",
    "web.command",  # the web pages: imported by name, so bot and web stay independent
)

LONG_RUNNING = frozenset({"serve", "worker"})
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a killed writer


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="pictune", description="Turn a picture into music.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("pictune: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    _tolerate_undecodable_names()
    from pydantic import ValidationError

    from engine.config import describe_error, get_settings
    from engine.errors import ConfigError, PictuneError
    from engine.logging import configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except Exception as exc:  # a bad value, or a .env file that cannot be read
        if args.command == "doctor":  # the doctor reports a bad setting among its checks
            return int(args.func(args) or 0)
        if isinstance(exc, ValidationError):
            what = describe_error(exc)
        else:
            what = f"the settings cannot be read ({type(exc).__name__}): check the .env file here"
        print(f"pictune: configuration error: {what}", file=sys.stderr)
        return 3
    # Services log what they do; one-shot commands only what went wrong.
    level = logging.DEBUG if args.verbose else None
    if level is None and args.command not in LONG_RUNNING:
        level = logging.WARNING
    configure_logging(settings, level=level)
    log = logging.getLogger("pictune")
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's exit handler
        return code
    except BrokenPipeError:
        # `pictune history | head -1`: the reader has what it wanted. Say nothing more, and
        # let nothing else try to write to the pipe on the way out.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ConfigError as exc:
        # At the terminal the user is the operator: a message written for them is shown as
        # it is; otherwise the detail says what to fix, not "the operators have been told".
        log.debug("failed", exc_info=True)
        if "user_message" in vars(exc):
            print(f"pictune: {exc.user_message}", file=sys.stderr)
        else:
            what = _first_line(exc.detail) or exc.user_message
            print(
                f"pictune: configuration problem: {what} (`pictune doctor` helps)", file=sys.stderr
            )
        return exc.exit_code
    except PictuneError as exc:
        # One line for the person at the terminal; details only with --verbose.
        log.debug("failed", exc_info=True)
        print(f"pictune: {exc.user_message}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        log.debug("failed", exc_info=True)
        print(f"pictune: {_os_error(exc)}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:  # e.g. the driver a database URL names
        log.debug("failed", exc_info=True)
        print(f"pictune: configuration problem: {exc.name} is not installed", file=sys.stderr)
        return 3
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        if _is_database_problem(exc):
            log.debug("failed", exc_info=True)
            print(
                f"pictune: configuration problem: the history database cannot be used "
                f"({type(exc).__name__}): check PICTUNE_DATABASE_URL and that its server runs "
                "(`pictune doctor` helps)",
                file=sys.stderr,
            )
            return 3
        # A bug: no traceback at the terminal unless asked for; a service's log keeps it.
        log.log(
            logging.ERROR if args.command in LONG_RUNNING else logging.DEBUG,
            "failed",
            exc_info=True,
        )
        hint = "" if args.verbose else "; run with --verbose for details"
        print(f"pictune: unexpected error ({type(exc).__name__}){hint}", file=sys.stderr)
        return 1


def _tolerate_undecodable_names() -> None:
    """A file name that is not UTF-8 (Python holds its bytes as lone surrogates) prints as
    its own bytes, as `ls` shows it, instead of failing after the work is done."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None and getattr(sys.stdout, "errors", None) == "strict":
        reconfigure(errors="surrogateescape")


def _is_database_problem(exc: Exception) -> bool:
    """A database URL that does not parse, a server that does not answer, a missing driver."""
    from sqlalchemy import exc as sa

    return isinstance(
        exc, (sa.ArgumentError, sa.OperationalError, sa.InterfaceError, sa.NoSuchModuleError)
    )


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _os_error(exc: OSError) -> str:
    """'cannot use out/x: Permission denied' rather than a traceback."""
    reason = exc.strerror or type(exc).__name__
    if exc.filename is not None:
        return f"cannot use {exc.filename}: {reason}"
    return reason


if __name__ == "__main__":
    sys.exit(main())
