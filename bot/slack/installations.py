"""Slack installations and OAuth states in Pictune's own database, for Bolt.

``DatabaseInstallationStore`` is slack_sdk's ``AsyncInstallationStore`` over
``Store.*_installation`` (storage/installations.py): one row per app (client id) and
workspace holding the bot token that Bolt's ``authorize`` hands each request's client.
``DatabaseStateStore`` is its ``AsyncOAuthStateStore`` over ``Store.*_oauth_state``: a
state survives a restart between ``/slack/install`` and the redirect, works once, and
expires. The database work is synchronous (SQLAlchemy) and runs in ``asyncio.to_thread``.

Pictune asks for bot scopes only, so an installation is the workspace's bot token plus who
installed it; a user token is kept when an app asks for user scopes, but never used.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime, timedelta

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from storage.installations import InstallationRecord
from storage.store import Store

log = logging.getLogger("pictune.slack")

PLATFORM = "slack"
# Installation fields kept apart from the columns (none of them is a secret).
EXTRA_FIELDS = (
    "enterprise_url",
    "incoming_webhook_url",
    "incoming_webhook_channel",
    "incoming_webhook_channel_id",
    "incoming_webhook_configuration_url",
    "token_type",
)


class DatabaseInstallationStore(AsyncInstallationStore):
    def __init__(self, store: Store, client_id: str) -> None:
        self.store = store
        self.client_id = client_id

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        record = to_record(installation, self.client_id)
        await asyncio.to_thread(self.store.installations.save, record)
        log.info(
            "Slack: installed in workspace %s (%s) by %s",
            record.workspace or record.org_id,
            record.workspace_name or record.org_name or "?",
            record.installer_id,
        )

    async def async_save_bot(self, bot: Bot) -> None:
        """A bot token rotated by Bolt: the bot's fields change, the installer's stay."""
        record = bot_record(bot, self.client_id)
        await asyncio.to_thread(self.store.installations.save, record, bot_only=True)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        record = await self._find(enterprise_id, team_id, is_enterprise_install)
        if record is None or record.bot_token is None:
            return None
        return to_installation(record).to_bot()

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        record = await self._find(enterprise_id, team_id, is_enterprise_install, user_id)
        return None if record is None else to_installation(record)

    async def async_find_workspace(self, team_id: str) -> Installation | None:
        """The installation in a workspace whatever its org (a piece asked there knows only
        the workspace): for posting outside a request (``oauth.TeamClients``)."""
        record = await asyncio.to_thread(
            self.store.installations.find, PLATFORM, self.client_id, workspace=team_id, org_id=None
        )
        return None if record is None else to_installation(record)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        removed = await asyncio.to_thread(
            self.store.installations.delete_bot,
            PLATFORM,
            self.client_id,
            workspace=team_id or "",
            org_id=enterprise_id or "",
        )
        if removed:
            log.info("Slack: the bot token of workspace %s was revoked", team_id or enterprise_id)

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        removed = await asyncio.to_thread(
            self.store.installations.delete,
            PLATFORM,
            self.client_id,
            workspace=team_id or "",
            org_id=enterprise_id or "",
            installer_id=user_id,
        )
        if removed and user_id is None:
            log.info(
                "Slack: uninstalled from workspace %s; its pieces stay in the history",
                team_id or enterprise_id,
            )

    async def _find(
        self,
        enterprise_id: str | None,
        team_id: str | None,
        org_wide: bool | None,
        user_id: str | None = None,
    ) -> InstallationRecord | None:
        # As slack_sdk's stores do: an org-wide install is found by its org alone.
        workspace = "" if org_wide or team_id is None else team_id
        return await asyncio.to_thread(
            self.store.installations.find,
            PLATFORM,
            self.client_id,
            workspace=workspace,
            org_id=enterprise_id or "",
            installer_id=user_id,
        )


class DatabaseStateStore(AsyncOAuthStateStore):
    def __init__(self, store: Store, expiration_seconds: int) -> None:
        self.store = store
        self.lifetime = timedelta(seconds=expiration_seconds)

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        return await asyncio.to_thread(self.store.installations.issue_state, self.lifetime)

    async def async_consume(self, state: str) -> bool:
        used = await asyncio.to_thread(self.store.installations.consume_state, state)
        if not used:
            log.warning("Slack: an install came back with an unknown, used or expired state")
        return used


def to_record(installation: Installation, client_id: str) -> InstallationRecord:
    """The whole installation: its bot's record plus who installed it and their token."""
    return dataclasses.replace(
        bot_record(installation.to_bot(), client_id),
        installer_id=installation.user_id,
        user_token=installation.user_token,
        user_scopes=list(installation.user_scopes or []),
        user_refresh_token=installation.user_refresh_token,
        user_token_expires_at=_when(installation.user_token_expires_at),
        extra={
            name: value
            for name in EXTRA_FIELDS
            if (value := getattr(installation, name, None)) is not None
        },
    )


def bot_record(bot: Bot, client_id: str) -> InstallationRecord:
    org_wide = bool(bot.is_enterprise_install)
    return InstallationRecord(
        platform=PLATFORM,
        client_id=client_id,
        workspace="" if org_wide else (bot.team_id or ""),
        org_id=bot.enterprise_id or "",
        app_id=bot.app_id,
        workspace_name=bot.team_name,
        org_name=bot.enterprise_name,
        org_wide=org_wide,
        bot_token=bot.bot_token,
        bot_id=bot.bot_id,
        bot_user_id=bot.bot_user_id,
        bot_scopes=list(bot.bot_scopes or []),
        bot_refresh_token=bot.bot_refresh_token,
        bot_token_expires_at=_when(bot.bot_token_expires_at),
        installed_at=_when(bot.installed_at),
    )


def to_installation(record: InstallationRecord) -> Installation:
    extra = record.extra
    return Installation(
        app_id=record.app_id,
        enterprise_id=record.org_id or None,
        enterprise_name=record.org_name,
        enterprise_url=extra.get("enterprise_url"),
        team_id=record.workspace or None,
        team_name=record.workspace_name,
        bot_token=record.bot_token,
        bot_id=record.bot_id,
        bot_user_id=record.bot_user_id,
        bot_scopes=list(record.bot_scopes),
        bot_refresh_token=record.bot_refresh_token,
        bot_token_expires_at=_stamp(record.bot_token_expires_at),
        user_id=record.installer_id or "",
        user_token=record.user_token,
        user_scopes=list(record.user_scopes),
        user_refresh_token=record.user_refresh_token,
        user_token_expires_at=_stamp(record.user_token_expires_at),
        incoming_webhook_url=extra.get("incoming_webhook_url"),
        incoming_webhook_channel=extra.get("incoming_webhook_channel"),
        incoming_webhook_channel_id=extra.get("incoming_webhook_channel_id"),
        incoming_webhook_configuration_url=extra.get("incoming_webhook_configuration_url"),
        is_enterprise_install=record.org_wide,
        token_type=extra.get("token_type"),
        installed_at=record.installed_at.timestamp() if record.installed_at else None,
    )


def _when(stamp: float | int | None) -> datetime | None:
    """slack_sdk's Unix times as aware datetimes."""
    return None if stamp is None else datetime.fromtimestamp(float(stamp), tz=UTC)


def _stamp(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp())
