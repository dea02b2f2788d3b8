"""`pictune serve`: run the chat platforms whose tokens are configured, on one shared engine.

Discord starts when DISCORD_TOKEN is set; Slack when SLACK_BOT_TOKEN is set together with
SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode). Both share one history,
one job service and one PictuneBot. Platform modules are imported only when used, so a
deployment without discord.py (or slack-bolt) installed serves the other one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable

from bot.slack.mode import slack_missing
from engine.config import Settings, get_settings
from engine.errors import ConfigError

log = logging.getLogger("pictune.serve")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the Discord and/or Slack bot")
    p.add_argument(
        "--only",
        choices=("discord", "slack"),
        default=None,
        help="start just this platform (default: every one configured)",
    )
    p.set_defaults(func=run)


def configured_platforms(settings: Settings) -> tuple[list[str], list[str]]:
    """(platforms to start, lines saying what is missing for the others)."""
    start: list[str] = []
    missing: list[str] = []
    if settings.discord_token is not None and settings.discord_token.get_secret_value():
        start.append("discord")
    else:
        missing.append("Discord: set DISCORD_TOKEN to start it.")
    missing_slack = slack_missing(settings)
    if missing_slack is None:
        start.append("slack")
    else:
        missing.append(f"Slack: {missing_slack}")
    return start, missing


def _server(platform: str) -> Callable[..., Awaitable[None]]:
    try:
        if platform == "discord":
            from bot.discord.client import run as serve_discord

            return serve_discord
        from bot.slack.app import serve as serve_slack

        return serve_slack
    except ImportError as exc:
        extra = "discord" if platform == "discord" else "slack"
        raise ConfigError(
            f"The {platform} bot needs its packages: pip install 'pictune[{extra}]'.",
            detail=str(exc),
        ) from exc


async def serve(settings: Settings, platforms: list[str]) -> None:
    from bot.core import PictuneBot
    from service import load_job_service
    from storage.store import Store

    servers = [(name, _server(name)) for name in platforms]
    store = Store.open(settings)
    service = load_job_service(settings, store)
    await service.start()
    bot = PictuneBot(settings, service, store)
    ops = None
    if settings.http_port > 0:  # /healthz and /metrics for the operators
        from service.http import OpsServer

        ops = OpsServer(service, port=settings.http_port)
        port = await ops.start()
        log.info("health and metrics on http://127.0.0.1:%s/healthz and /metrics", port)
    try:
        # One platform failing (a bad token) stops the process: an operator must look.
        await asyncio.gather(*(server(settings, bot) for _, server in servers))
    finally:
        if ops is not None:
            await ops.stop()
        await service.stop()
        await bot.close()
        store.close()


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    platforms, missing = configured_platforms(settings)
    if args.only:
        if args.only not in platforms:
            print(f"pictune: {args.only} is not configured.", file=sys.stderr)
            for line in missing:
                print(f"  {line}", file=sys.stderr)
            return 2
        platforms = [args.only]
        missing = []
    for line in missing:
        print(f"pictune: not starting {line}", file=sys.stderr)
    if not platforms:
        print("pictune: no chat platform is configured: nothing to serve.", file=sys.stderr)
        return 2
    print(f"pictune: serving {' and '.join(platforms)}", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, platforms))
    return 0
