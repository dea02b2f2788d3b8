"""A person's own defaults in a workspace: length, mode, private by default, style.

Stored as given (types checked here); what may be typed, the sentences for it and the
workspace's limits that bound them are service/library.py's and service/requests.py's."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from engine.errors import InvalidOption
from storage.db import Database
from storage.models import PersonalDefaults, utcnow


@dataclass(frozen=True)
class DefaultsView:
    duration: float | None = None
    mode: str | None = None
    private: bool | None = None
    style: str | None = None


FIELDS = tuple(f.name for f in fields(DefaultsView))


class Personal:
    """``store.personal``: each person's defaults, by (platform, workspace, user)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, platform: str, workspace: str, user_id: str) -> DefaultsView:
        with self.db.read() as session:
            row = session.get(PersonalDefaults, (platform, workspace, user_id))
            return _view(row) if row is not None else DefaultsView()

    def update(self, platform: str, workspace: str, user_id: str, **changes: Any) -> DefaultsView:
        """Set some of a person's defaults (None clears one)."""
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise InvalidOption(f"There is no personal default called {sorted(unknown)[0]!r}.")
        with self.db.write() as session:
            row = session.get(PersonalDefaults, (platform, workspace, user_id))
            if row is None:
                row = PersonalDefaults(platform=platform, workspace=workspace, user_id=user_id)
                session.add(row)
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            session.flush()
            return _view(row)


def _view(row: PersonalDefaults) -> DefaultsView:
    return DefaultsView(duration=row.duration, mode=row.mode, private=row.private, style=row.style)
