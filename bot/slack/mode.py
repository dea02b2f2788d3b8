"""How Pictune runs on Slack, read from the settings alone.

No Slack package is imported here: `pictune serve` and `pictune doctor` ask the same
questions as the Slack app before anything starts (bot/slack/app.py says how each way runs).
"""

from __future__ import annotations

import logging
from typing import Any

from engine.config import Settings
from engine.errors import ConfigError

log = logging.getLogger("pictune.slack")


def secret(value: Any) -> str | None:
    """A SecretStr (or None) as a plain string, or None when empty."""
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text or None


def plain(value: Any) -> str | None:
    """A setting (plain or secret) as a stripped string, or None when empty."""
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text.strip() or None


def oauth_configured(settings: Settings) -> bool:
    """True when Pictune is installed by OAuth (client id and secret both set). Only one of
    them set is a mistake, said as such."""
    client_id, client_secret = (
        plain(settings.slack_client_id),
        plain(settings.slack_client_secret),
    )
    if bool(client_id) != bool(client_secret):
        raise ConfigError(
            "Set both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (Basic Information -> App "
            "Credentials) to install Pictune with Add to Slack, or neither."
        )
    return bool(client_id)


BOT_TOKEN_PREFIXES = ("xoxb-", "xoxe.xoxb-")  # a bot token (rotating ones start with xoxe.)
APP_TOKEN_PREFIX = "xapp-"


def token_problem(settings: Settings) -> str | None:
    """A token in the wrong variable (the app-level and bot tokens swapped, a user token
    as the bot's), in the operator's words; None when their shapes fit."""
    bot, app = secret(settings.slack_bot_token), secret(settings.slack_app_token)
    if bot and bot.startswith(APP_TOKEN_PREFIX) and app and app.startswith(BOT_TOKEN_PREFIXES):
        return "SLACK_BOT_TOKEN and SLACK_APP_TOKEN are swapped: the bot token is xoxb-..., the app-level token xapp-..."
    if bot and not bot.startswith(BOT_TOKEN_PREFIXES):
        return (
            "SLACK_BOT_TOKEN is not a bot token (xoxb-...): copy the Bot User OAuth Token from "
            "the app's OAuth & Permissions page."
        )
    if app and not app.startswith(APP_TOKEN_PREFIX):
        return (
            "SLACK_APP_TOKEN is not an app-level token (xapp-...): make one with the "
            "connections:write scope on the app's Basic Information page."
        )
    return None


def connection_mode(settings: Settings) -> str:
    """ "oauth" when Pictune is installed with Add to Slack (HTTP, many workspaces);
    otherwise one workspace: "socket" when an app-level token is set (no public URL
    needed), else "http". A token in the wrong variable is a ConfigError."""
    problem = token_problem(settings)
    if problem:
        raise ConfigError(problem)
    if oauth_configured(settings):
        if secret(settings.slack_app_token):
            raise ConfigError(
                "Add to Slack (SLACK_CLIENT_ID) runs in HTTP mode: unset SLACK_APP_TOKEN, turn "
                "Socket Mode off in the app and set SLACK_SIGNING_SECRET (docs/slack.md)."
            )
        if not secret(settings.slack_signing_secret):
            raise ConfigError(
                "Add to Slack (SLACK_CLIENT_ID) needs SLACK_SIGNING_SECRET too: copy it from "
                "the app's Basic Information page."
            )
        if secret(settings.slack_bot_token):
            log.warning(
                "Slack: SLACK_BOT_TOKEN is not used with Add to Slack: install Pictune in "
                "that workspace too, through /slack/install"
            )
        return "oauth"
    if secret(settings.slack_app_token):
        return "socket"
    if secret(settings.slack_signing_secret):
        return "http"
    raise ConfigError(
        "Slack needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) "
        "besides SLACK_BOT_TOKEN: see docs/slack.md."
    )


def slack_missing(settings: Settings) -> str | None:
    """What keeps Slack from starting, in the operator's words, or None. Slack is wanted
    once a bot token (one workspace) or the Add to Slack credentials are set."""
    wanted = (
        secret(settings.slack_bot_token)
        or plain(settings.slack_client_id)
        or plain(settings.slack_client_secret)
    )
    if not wanted:
        return (
            "set SLACK_BOT_TOKEN and SLACK_APP_TOKEN (one workspace), or SLACK_CLIENT_ID, "
            "SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET (Add to Slack), to start it."
        )
    try:
        connection_mode(settings)
    except ConfigError as exc:
        return exc.user_message
    return None
