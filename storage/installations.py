"""Apps installed into workspaces by OAuth, and the one-use states of OAuth flows.

A chat app distributed to many workspaces ("Add to Slack") gets one bot token per workspace
when someone installs it; this module keeps them, one row per app (client id) and workspace,
so that every bot process and every restart finds the token of the workspace it answers.
The platform's own models (slack_sdk's ``Installation``) are mapped to and from
``InstallationRecord`` in bot/slack/installations.py: storage knows nothing of Slack.

Tokens are secrets: ``InstallationRecord`` leaves them out of its repr, and nothing here
logs them. Removing the tokens of a workspace (uninstalled, revoked) removes its row; its
pieces stay in the history.

An OAuth state is issued when someone starts installing and consumed when the platform
sends them back: a single ``DELETE ... WHERE state = ? AND expires_at > now``, so it works
once, within its lifetime, whichever bot process takes the redirect (a restart between
the two steps included).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.db import Database
from storage.models import AppInstallation, OAuthState, utcnow

MAX_ID = 64  # platform, client, org and workspace ids
MAX_STATE = 64
SAVE_ATTEMPTS = 3  # two processes saving the first install of a workspace at once
_BOT_FIELDS = (
    "bot_token",
    "bot_id",
    "bot_user_id",
    "bot_scopes",
    "bot_refresh_token",
    "bot_token_expires_at",
)
_USER_FIELDS = ("user_token", "user_scopes", "user_refresh_token", "user_token_expires_at")


@dataclass
class InstallationRecord:
    """One app's installation in one workspace (or org, for an org-wide install)."""

    platform: str
    client_id: str
    workspace: str  # team id; "" for an org-wide install
    org_id: str = ""  # enterprise / org id; "" when none
    app_id: str | None = None
    workspace_name: str | None = None
    org_name: str | None = None
    org_wide: bool = False
    bot_token: str | None = field(default=None, repr=False)
    bot_id: str | None = None
    bot_user_id: str | None = None
    bot_scopes: list[str] = field(default_factory=list)
    bot_refresh_token: str | None = field(default=None, repr=False)
    bot_token_expires_at: datetime | None = None
    installer_id: str | None = None
    user_token: str | None = field(default=None, repr=False)
    user_scopes: list[str] = field(default_factory=list)
    user_refresh_token: str | None = field(default=None, repr=False)
    user_token_expires_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    installed_at: datetime | None = None


class Installations:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ----------------------------------------------------------------- installations

    def save(self, record: InstallationRecord, *, bot_only: bool = False) -> None:
        """Keep ``record`` as the installation of its app in its workspace, replacing the
        one there (a reinstall, rotated tokens). ``bot_only``: change the bot's fields and
        leave the installer's as they are."""
        _check_key(record.platform, record.client_id, record.org_id, record.workspace)
        values = _values(record)
        if bot_only:
            values = {k: v for k, v in values.items() if k not in ("installer_id", *_USER_FIELDS)}
        for attempt in range(SAVE_ATTEMPTS):
            try:
                with self.db.write() as session:
                    row = session.get(AppInstallation, _key(record))
                    if row is None:
                        session.add(AppInstallation(**_pk(record), **values))
                    else:
                        for name, value in values.items():
                            setattr(row, name, value)
                return
            except IntegrityError:  # another process inserted the same row first: update it
                if attempt == SAVE_ATTEMPTS - 1:
                    raise

    def find(
        self,
        platform: str,
        client_id: str,
        *,
        workspace: str,
        org_id: str | None = "",
        installer_id: str | None = None,
    ) -> InstallationRecord | None:
        """The installation in ``workspace`` ("" for an org-wide one). ``org_id=None``
        matches any org (a workspace id is unique by itself). With ``installer_id``, only
        when that person installed it."""
        with self.db.read() as session:
            row = self._row(session, platform, client_id, workspace, org_id)
            if row is None or (installer_id is not None and row.installer_id != installer_id):
                return None
            return _record(row)

    def delete(
        self,
        platform: str,
        client_id: str,
        *,
        workspace: str,
        org_id: str = "",
        installer_id: str | None = None,
    ) -> bool:
        """Forget an installation (the app was uninstalled); with ``installer_id``, only that
        person's user token (revoked), the row going when no token is left. True when
        something was removed."""
        with self.db.write() as session:
            row = self._row(session, platform, client_id, workspace, org_id)
            if row is None:
                return False
            if installer_id is None:
                session.delete(row)
                return True
            if row.installer_id != installer_id or row.user_token is None:
                return False
            _clear(session, row, _USER_FIELDS)
            return True

    def delete_bot(
        self, platform: str, client_id: str, *, workspace: str, org_id: str = ""
    ) -> bool:
        """Forget the bot's token in a workspace (revoked); the row goes when no token is
        left. True when there was one."""
        with self.db.write() as session:
            row = self._row(session, platform, client_id, workspace, org_id)
            if row is None or row.bot_token is None:
                return False
            _clear(session, row, _BOT_FIELDS)
            return True

    def count(self, platform: str, client_id: str | None = None) -> int:
        """Workspaces holding an installation (for ``pictune db info`` and tests)."""
        with self.db.read() as session:
            stmt = select(func.count()).where(AppInstallation.platform == platform)
            if client_id is not None:
                stmt = stmt.where(AppInstallation.client_id == client_id)
            return int(session.scalar(stmt) or 0)

    @staticmethod
    def _row(
        session: Session, platform: str, client_id: str, workspace: str, org_id: str | None
    ) -> AppInstallation | None:
        stmt = select(AppInstallation).where(
            AppInstallation.platform == platform,
            AppInstallation.client_id == client_id,
            AppInstallation.workspace == workspace,
        )
        if org_id is not None:
            stmt = stmt.where(AppInstallation.org_id == org_id)
        # Without an org, the newest (a workspace moved into an org is installed again).
        return session.scalars(stmt.order_by(AppInstallation.installed_at.desc()).limit(1)).first()

    # ----------------------------------------------------------------- OAuth states

    def issue_state(self, lifetime: timedelta) -> str:
        """A new random state, valid once for ``lifetime``. Expired states are cleared."""
        state = secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.write() as session:
            session.execute(delete(OAuthState).where(OAuthState.expires_at <= now))
            session.add(OAuthState(state=state, created_at=now, expires_at=now + lifetime))
        return state

    def consume_state(self, state: str) -> bool:
        """True once for a state issued here and not yet expired; False for anything else
        (unknown, forged, already used, too old, not a string)."""
        if not isinstance(state, str) or not state or len(state) > MAX_STATE:
            return False
        with self.db.write() as session:
            result = session.execute(
                delete(OAuthState).where(
                    OAuthState.state == state, OAuthState.expires_at > utcnow()
                )
            )
            return bool(result.rowcount)


def _check_key(*ids: str) -> None:
    for value in ids:
        if not isinstance(value, str) or len(value) > MAX_ID:
            raise ValueError(f"an installation id is a string of at most {MAX_ID} characters")


def _key(record: InstallationRecord) -> tuple[str, str, str, str]:
    # In the primary key's column order: platform, client_id, org_id, workspace.
    return (record.platform, record.client_id, record.org_id, record.workspace)


def _pk(record: InstallationRecord) -> dict[str, str]:
    return {
        "platform": record.platform,
        "client_id": record.client_id,
        "org_id": record.org_id,
        "workspace": record.workspace,
    }


def _values(record: InstallationRecord) -> dict[str, Any]:
    return {
        "app_id": record.app_id,
        "org_name": record.org_name,
        "workspace_name": record.workspace_name,
        "org_wide": record.org_wide,
        "bot_token": record.bot_token,
        "bot_id": record.bot_id,
        "bot_user_id": record.bot_user_id,
        "bot_scopes": ",".join(record.bot_scopes) or None,
        "bot_refresh_token": record.bot_refresh_token,
        "bot_token_expires_at": record.bot_token_expires_at,
        "installer_id": record.installer_id,
        "user_token": record.user_token,
        "user_scopes": ",".join(record.user_scopes) or None,
        "user_refresh_token": record.user_refresh_token,
        "user_token_expires_at": record.user_token_expires_at,
        "extra": dict(record.extra),
        "installed_at": record.installed_at or utcnow(),
    }


def _record(row: AppInstallation) -> InstallationRecord:
    return InstallationRecord(
        platform=row.platform,
        client_id=row.client_id,
        workspace=row.workspace,
        org_id=row.org_id,
        app_id=row.app_id,
        workspace_name=row.workspace_name,
        org_name=row.org_name,
        org_wide=row.org_wide,
        bot_token=row.bot_token,
        bot_id=row.bot_id,
        bot_user_id=row.bot_user_id,
        bot_scopes=_split(row.bot_scopes),
        bot_refresh_token=row.bot_refresh_token,
        bot_token_expires_at=row.bot_token_expires_at,
        installer_id=row.installer_id,
        user_token=row.user_token,
        user_scopes=_split(row.user_scopes),
        user_refresh_token=row.user_refresh_token,
        user_token_expires_at=row.user_token_expires_at,
        extra=dict(row.extra or {}),
        installed_at=row.installed_at,
    )


def _split(scopes: str | None) -> list[str]:
    return [s for s in (scopes or "").split(",") if s]


def _clear(session: Session, row: AppInstallation, names: tuple[str, ...]) -> None:
    """Drop some tokens of a row; the row itself once it holds none."""
    for name in names:
        setattr(row, name, None)
    if row.bot_token is None and row.user_token is None:
        session.delete(row)
