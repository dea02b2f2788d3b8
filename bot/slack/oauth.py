""" "Add to Slack": Pictune installed into many workspaces by OAuth v2.

With ``SLACK_CLIENT_ID`` and ``SLACK_CLIENT_SECRET`` set, the HTTP server that takes Slack's
events at ``/slack/events`` also serves

- ``GET /slack/install``: issues a one-use ``state`` (kept in the database, 10 minutes),
  sets it as a cookie in the installer's browser, and redirects to Slack's authorize page
  (``SLACK_AUTHORIZE_URL``) asking for the bot scopes of bot/slack/manifest.yml;
- ``GET /slack/oauth_redirect``: Slack sends the installer back with a code; the state must
  match the cookie and be unused and fresh, the code is exchanged with ``oauth.v2.access``
  and the workspace's bot token is saved (bot/slack/installations.py).

Bolt's ``authorize`` then finds, for every request, the token of the workspace it comes
from and gives it to the request's ``client``; a workspace that never installed Pictune
(or removed it) gets no answer. Posts made outside a request (pieces left by a restart)
ask ``TeamClients.client_for(team_id)``. ``app_uninstalled`` and ``tokens_revoked`` remove
the tokens; the workspace's pieces stay in the history.

This is HTTP mode only: the redirect needs a public HTTPS URL anyway, which is the one
thing Socket Mode spares, and one server then takes everything.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.listener.async_builtins import AsyncTokenRevocationListeners
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.installations import DatabaseInstallationStore, DatabaseStateStore
from bot.slack.mode import plain
from engine.config import Settings
from engine.errors import ConfigError, PictuneError
from storage.store import Store

log = logging.getLogger("pictune.slack")

MANIFEST = Path(__file__).with_name("manifest.yml")
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600  # from /slack/install to the redirect: the person reads Slack's page


@lru_cache(maxsize=4)
def bot_scopes(manifest: Path = MANIFEST) -> tuple[str, ...]:
    """The bot scopes the app manifest asks for: the one list, used by Add to Slack too."""
    data = yaml.safe_load(manifest.read_text())
    scopes = ((data.get("oauth_config") or {}).get("scopes") or {}).get("bot") or []
    if not scopes or not all(isinstance(s, str) for s in scopes):
        raise ConfigError(
            "bot/slack/manifest.yml lists no bot scopes: restore it from the release.",
            detail=f"oauth_config.scopes.bot in {manifest} is {scopes!r}",
        )
    return tuple(scopes)


def check_redirect_uri(uri: str | None) -> str | None:
    """``SLACK_REDIRECT_URI`` must end at the path Pictune serves the redirect on (a proxy
    may put a prefix before it)."""
    if uri is None or not uri.strip():
        return None
    uri = uri.strip()
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ConfigError(f"SLACK_REDIRECT_URI must be a URL: https://<host>{REDIRECT_PATH}.")
    if not parts.path.rstrip("/").endswith(REDIRECT_PATH):
        raise ConfigError(
            f"SLACK_REDIRECT_URI must end with {REDIRECT_PATH}, where Pictune takes Slack's "
            "redirect; list the same URL in the app's Redirect URLs."
        )
    return uri


def oauth_settings(settings: Settings, store: Store) -> AsyncOAuthSettings:
    """Bolt's OAuth settings: Pictune's scopes, its database for installations and states."""
    client_id = plain(settings.slack_client_id)
    client_secret = plain(settings.slack_client_secret)
    if not client_id or not client_secret:
        raise ConfigError("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are needed for Add to Slack.")
    return AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(bot_scopes()),
        user_scopes=[],
        redirect_uri=check_redirect_uri(settings.slack_redirect_uri),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        # Straight to Slack's page: Bolt's own page would only show an "Add to Slack" button.
        install_page_rendering_enabled=False,
        authorization_url=settings.slack_authorize_url,
        installation_store=DatabaseInstallationStore(store, client_id),
        state_store=DatabaseStateStore(store, STATE_SECONDS),
        state_expiration_seconds=STATE_SECONDS,
        logger=log,
    )


def forget_uninstalled(app: AsyncApp, installations: DatabaseInstallationStore) -> None:
    """``app_uninstalled`` and ``tokens_revoked`` remove the workspace's tokens (Bolt's
    listeners, on Pictune's store). Its pieces stay: a workspace that installs Pictune again
    finds its history, and deleting pieces is for their owners and ``/compose delete``."""
    revocations = AsyncTokenRevocationListeners(installations)
    app.event("app_uninstalled")(revocations.handle_app_uninstalled_events)
    app.event("tokens_revoked")(revocations.handle_tokens_revoked_events)


def log_uninstalled(app: AsyncApp) -> None:
    """With one bot token there is nothing to forget, but the operator should hear it."""

    async def uninstalled(context: AsyncBoltContext) -> None:
        log.warning(
            "Slack: Pictune was removed from workspace %s; SLACK_BOT_TOKEN no longer works there",
            context.team_id,
        )

    async def revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if (event.get("tokens") or {}).get("bot"):
            log.warning("Slack: the bot token of workspace %s was revoked", context.team_id)

    app.event("app_uninstalled")(uninstalled)
    app.event("tokens_revoked")(revoked)


class TeamClients:
    """The Web API client to use in a workspace outside a request (a piece posted after a
    restart): with one bot token, the app's client; with installations, a client with the
    workspace's own token, found (and rotated, when rotation is on) as Bolt finds it for a
    request. None where Pictune is not installed; PictuneError where it is but Slack
    refuses the token now."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        authorize: AsyncAuthorize | None = None,
        installations: DatabaseInstallationStore | None = None,
    ) -> None:
        self.client = client
        self.authorize = authorize
        self.installations = installations

    async def client_for(self, team_id: str) -> AsyncWebClient | None:
        if self.authorize is None or self.installations is None:
            return self.client
        found = await self.installations.async_find_workspace(team_id)
        if found is None or not found.bot_token:
            return None
        context = AsyncBoltContext(
            client=self.client, is_enterprise_install=found.is_enterprise_install
        )
        result = await self.authorize(
            context=context, enterprise_id=found.enterprise_id, team_id=team_id, user_id=None
        )
        if result is None or not result.bot_token:
            # Installed, but Slack refused the token just now (revoked before the event
            # arrived, rate-limited): let a later look try again rather than give up.
            raise PictuneError(
                "Slack refused Pictune's token for that workspace.",
                detail=f"authorize found no usable bot token for workspace {team_id}",
            )
        return AsyncWebClient(
            token=result.bot_token,
            base_url=self.client.base_url,
            timeout=self.client.timeout,
            team_id=team_id,
            logger=self.client.logger,
            retry_handlers=[*self.client.retry_handlers],
        )
