"""A workspace's own settings: its community channel, default mode, quotas and longest piece.

None means the deployment's default applies. The values are checked here as stored (types
and bounds); what a person may type, and the sentences for it, are service/library.py's."""

from __future__ import annotations

from typing import Any

from engine.errors import InvalidOption
from storage.db import Database
from storage.models import VISIBILITIES, WorkspaceSettings, utcnow
from storage.views import WORKSPACE_SETTING_FIELDS, WorkspaceSettingsView


class Workspaces:
    """The settings of each (platform, workspace)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def settings(self, platform: str, workspace: str) -> WorkspaceSettingsView:
        with self.db.read() as session:
            row = session.get(WorkspaceSettings, (platform, workspace))
            if row is None:
                return WorkspaceSettingsView(platform=platform, workspace=workspace)
            return _settings_view(row)

    def update(self, platform: str, workspace: str, **changes: Any) -> WorkspaceSettingsView:
        """Change some of a workspace's settings (None resets one to the default)."""
        for key, value in changes.items():
            _check_setting(key, value)
        with self.db.write() as session:
            row = session.get(WorkspaceSettings, (platform, workspace))
            if row is None:
                row = WorkspaceSettings(platform=platform, workspace=workspace)
                session.add(row)
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            session.flush()
            return _settings_view(row)


def _check_setting(key: str, value: Any) -> None:
    from engine.types import MODES

    if key not in WORKSPACE_SETTING_FIELDS:
        raise InvalidOption(f"There is no workspace setting called {key!r}.")
    if value is None:
        return
    if key == "community_channel" and not (isinstance(value, str) and 0 < len(value) <= 64):
        raise InvalidOption("The community channel must be a channel.")
    if key == "default_mode" and value not in MODES:
        raise InvalidOption(f"The mode must be one of {', '.join(MODES)}.")
    if key == "default_visibility" and value not in VISIBILITIES:
        raise InvalidOption("Visibility must be public or private.")
    if key in ("user_daily_quota", "workspace_daily_quota", "user_active_limit") and (
        isinstance(value, bool) or not isinstance(value, int) or value < 0
    ):
        raise InvalidOption("A quota must be a whole number, 0 or more.")
    if key == "max_duration" and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600
    ):
        raise InvalidOption("The longest duration must be between 1 and 3600 seconds.")
    if key == "story_threads" and not isinstance(value, bool):
        raise InvalidOption("Story threads are on or off.")


def _settings_view(row: WorkspaceSettings) -> WorkspaceSettingsView:
    return WorkspaceSettingsView(
        platform=row.platform,
        workspace=row.workspace,
        community_channel=row.community_channel,
        default_mode=row.default_mode,
        default_visibility=row.default_visibility,
        user_daily_quota=row.user_daily_quota,
        workspace_daily_quota=row.workspace_daily_quota,
        user_active_limit=row.user_active_limit,
        max_duration=row.max_duration,
        story_threads=row.story_threads,
        updated_at=row.updated_at,
    )
