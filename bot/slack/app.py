"""The Slack app: a Bolt ``AsyncApp`` wired to PictuneBot, served by Socket Mode or HTTP.

Three ways to run (``connection_mode``):

- ``socket``: one workspace, one bot token (``SLACK_BOT_TOKEN``), Socket Mode
  (``SLACK_APP_TOKEN``): no public URL;
- ``http``: one workspace, one bot token, HTTP mode: Slack's Events API, interactivity and
  slash commands at ``/slack/events`` on ``settings.slack_port``, every request's
  signature checked (``SLACK_SIGNING_SECRET``), timestamps older than five minutes and
  signatures already seen refused, so a captured request cannot be replayed
  (bot/slack/guard.py);
- ``oauth``: HTTP mode installed into many workspaces with "Add to Slack"
  (``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET``, bot/slack/oauth.py): the same server also
  serves ``/slack/install`` and ``/slack/oauth_redirect``, and each workspace's bot token
  comes from the database.

``SLACK_API_URL`` points the Web API client elsewhere, e.g. at a local fake in tests; Socket
Mode asks that client for its WebSocket URL (``apps.connections.open``), so it follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import PictuneBot
from bot.slack.edits import retry_handlers
from bot.slack.guard import RequestGuard
from bot.slack.installations import DatabaseInstallationStore
from bot.slack.listeners import SlackAdapter
from bot.slack.mode import connection_mode, oauth_configured, secret
from bot.slack.oauth import TeamClients, forget_uninstalled, log_uninstalled, oauth_settings
from engine.config import Settings
from engine.errors import ConfigError

log = logging.getLogger("pictune.slack")

EVENTS_PATH = "/slack/events"


def web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client with the bot token, pointed at ``slack_api_url`` when set."""
    token = secret(settings.slack_bot_token)
    if not token:
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set: copy the bot token (xoxb-...) from the Slack app's "
            "OAuth & Permissions page."
        )
    return api_client(settings, token)


def api_client(settings: Settings, token: str | None = None) -> AsyncWebClient:
    """A Web API client pointed at ``slack_api_url`` when set; without a token, Bolt gives
    each request's copy the token of the workspace it comes from (``oauth`` mode). It
    retries rate limits, server errors and dropped connections (bot/slack/edits.py); Bolt
    copies its retry handlers into every request's client."""
    kwargs: dict[str, Any] = {"token": token, "retry_handlers": retry_handlers()}
    if settings.slack_api_url:
        kwargs["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    return AsyncWebClient(**kwargs)


def build_app(
    settings: Settings,
    bot: PictuneBot,
    *,
    client: AsyncWebClient | None = None,
    adapter: SlackAdapter | None = None,
) -> AsyncApp:
    """A Bolt app whose listeners call ``bot``. Listeners acknowledge at once and work in
    the background (``process_before_response=False``), so Slack's 3 seconds always hold.

    With ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` the app is installed by OAuth: each
    request's client gets its workspace's token from the database, ``client`` (default: one
    with no token) is only the base the requests' clients copy.

    Every request first passes ``RequestGuard`` (signature, replays, events seen twice), in
    place of Bolt's own signature check and before any workspace is authorized."""
    adapter = adapter or SlackAdapter(bot)
    signing_secret = secret(settings.slack_signing_secret) or ""
    guard: dict[str, Any] = {
        "request_verification_enabled": False,
        "before_authorize": RequestGuard(signing_secret),
    }
    if oauth_configured(settings):
        base = client or api_client(settings)
        oauth = oauth_settings(settings, bot.library.store)
        app = AsyncApp(
            name="pictune",
            client=base,
            signing_secret=signing_secret,
            oauth_settings=oauth,
            process_before_response=False,
            **guard,
        )
        installations = oauth.installation_store
        assert isinstance(installations, DatabaseInstallationStore)
        forget_uninstalled(app, installations)
        adapter.teams = TeamClients(base, authorize=oauth.authorize, installations=installations)
    else:
        app = AsyncApp(
            name="pictune",
            client=client or web_client(settings),
            signing_secret=signing_secret,
            process_before_response=False,
            **guard,
        )
        log_uninstalled(app)
        adapter.teams = TeamClients(app.client)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed (%s)", body.get("type"), exc_info=error)

    adapter.register(app)
    return app


async def start_http(
    app: AsyncApp, host: str = "0.0.0.0", port: int = 3000
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` over HTTP at ``/slack/events`` (and, when it is installed by OAuth,
    ``/slack/install`` and ``/slack/oauth_redirect``); returns the runner (to clean up) and
    the port actually bound (``port=0`` picks a free one)."""
    runner = web.AppRunner(app.web_app(path=EVENTS_PATH, port=port), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1] if site._server else port  # type: ignore[union-attr]
    return runner, int(bound)


async def check_app_token(client: AsyncWebClient, token: str) -> None:
    """Ask for a Socket Mode link once before connecting: Slack's client would retry a
    wrong or revoked app token every 10 s forever, where the person starting Pictune needs
    to hear that the token is wrong."""
    try:
        await client.apps_connections_open(app_token=token)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        raise ConfigError(
            f"Slack refused SLACK_APP_TOKEN ({error or 'no reason given'}): use an app-level "
            "token (xapp-...) with the connections:write scope, see docs/slack.md.",
            detail=f"apps.connections.open failed: {exc}",
        ) from exc


async def serve(settings: Settings, bot: PictuneBot, *, host: str = "0.0.0.0") -> None:
    """Run the Slack app until cancelled. The caller owns ``bot`` (and its job service).

    Beside the listeners, the pieces earlier bot processes left undelivered are posted
    (``watch_orphans``). Stopping hands the pieces still on their way to the next bot
    process and lets the results being posted finish (``SlackAdapter.stop``)."""
    mode = connection_mode(settings)
    adapter = SlackAdapter(bot)
    app = build_app(settings, bot, adapter=adapter)
    if mode == "socket":
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        token = secret(settings.slack_app_token)
        await check_app_token(app.client, token)
        handler = AsyncSocketModeHandler(app, token)
        orphans = watch_orphans(bot, adapter)
        try:
            log.info("Slack: connecting in Socket Mode")
            await handler.start_async()
        finally:
            await stop_watching(orphans)
            await handler.close_async()
            await adapter.stop()
        return
    runner, port = await start_http(app, host, settings.slack_port)
    log.info("Slack: listening for events on port %d%s", port, EVENTS_PATH)
    if mode == "oauth":
        log.info("Slack: Add to Slack at /slack/install on port %d", port)
    orphans = watch_orphans(bot, adapter)
    try:
        await asyncio.Event().wait()
    finally:
        await stop_watching(orphans)
        await runner.cleanup()
        await adapter.stop()


def watch_orphans(bot: PictuneBot, adapter: SlackAdapter) -> asyncio.Task[None]:
    """Post, for as long as the app serves, what earlier bot processes left undelivered,
    each with the token of the workspace where it was asked (``adapter.client_for``)."""
    return asyncio.create_task(
        bot.requests.watch_orphans("slack", adapter.resume_orphan), name="pictune-slack-orphans"
    )


async def stop_watching(task: asyncio.Task[None]) -> None:
    """Cancel the watcher: the pieces it follows go back to the next bot process; those it
    is posting finish (they run apart, see ``ThreadReplies.posting``)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def run(settings: Settings) -> None:
    """``pictune serve`` for Slack alone: the history, the job service and the bot, then
    ``serve`` until interrupted."""

    async def main() -> None:
        from service import load_job_service
        from storage.store import Store

        connection_mode(settings)  # say what is missing before starting anything
        store = Store.open(settings)
        service = load_job_service(settings, store)
        await service.start()
        bot = PictuneBot(settings, service, store)
        try:
            await serve(settings, bot)
        finally:
            await service.stop()
            await bot.close()
            store.close()

    asyncio.run(main())
