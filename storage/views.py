"""Plain dataclasses the bots and the CLI get from the Store (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class Requester:
    """Who asked for a piece, and where: the one type the bots, the job service and the
    history share (``service.api`` re-exports it). Platform ids are opaque strings. The
    defaults are the CLI's local user; the bots always name all three ids.

    Message ids (see ``Store.set_message_ids``) must be unique within a platform: Discord
    message ids are; a Slack adapter should pass ``f"{channel}:{ts}"``.
    """

    platform: str = "cli"  # "discord" | "slack" | "cli"
    workspace: str = "local"  # Discord guild id, Slack team id; "local" for the CLI
    user_id: str = "local"
    channel: str | None = None
    user_name: str | None = None
    visibility: str = "public"  # public | private (only the owner sees it): visibility_for


def visibility_for(*, asked_private: bool, private_place: bool) -> str:
    """A new piece's visibility. Private when its maker asked so, or when it was asked in a
    place not everyone in the workspace can see (a DM, group DM, private channel or private
    thread): the history, search and the community channel must not carry it out of there.
    Such a piece is its maker's alone, like the ``private`` option; no finer rule ("those
    who can see that channel") is kept, as membership changes and no platform reports it
    to us reliably."""
    return "private" if asked_private or private_place else "public"


@dataclass
class GenerationView:
    """What a bot displays about one generation."""

    id: str  # "pt-7f3a2c"
    created_at: datetime  # timezone-aware, UTC
    status: str  # queued | running | done | failed | cancelled
    platform: str
    workspace: str
    channel: str | None
    user_id: str
    user_name: str | None
    visibility: str
    mode: str
    seed: int | None
    hint: str | None
    caption: str | None
    description: str | None  # the musical brief, in words
    motivation: str | None  # Markdown
    metrics: dict[str, float]
    files: dict[str, Path]  # file name -> path in the artifact store (read-only!)
    parent_id: str | None
    message_ids: dict[str, Any]  # role -> platform message id(s)
    favourites: int
    completed_at: datetime | None = None
    error: str | None = None  # user-facing message when status is "failed"
    image_sha256: str = ""
    audio_format: str | None = None
    audio_seconds: float | None = None
    brief: dict[str, Any] = field(default_factory=dict)  # key, mode, tempo, instruments, ...
    timings: dict[str, float] = field(default_factory=dict)
    backends: dict[str, str] = field(default_factory=dict)
    has_source_image: bool = False
    match: str | None = None  # search results: "text" or "semantic"

    @property
    def done(self) -> bool:
        return self.status == "done"


def piece_title(brief: dict[str, Any]) -> str:
    """A piece's name wherever it is shown (chat, the web): "A calm folk piece in D minor"."""
    moods = brief.get("moods") or []
    what = " ".join([*moods[:1], brief.get("genre") or "", "piece"]).split()
    key = f"{brief.get('key', '')} {brief.get('mode', '')}".strip()
    return " ".join(["A", *what]) + (f" in {key}" if key else "")


@dataclass
class Lineage:
    """A piece with the pieces it was rerun from and the reruns made from it."""

    piece: GenerationView
    ancestors: list[GenerationView]  # parent first, then its parent, ...
    reruns: list[GenerationView]  # direct reruns, oldest first


@dataclass
class WorkspaceSettingsView:
    """Per guild/team choices; None means the deployment's default applies."""

    platform: str
    workspace: str
    community_channel: str | None = None
    default_mode: str | None = None
    default_visibility: str | None = None
    user_daily_quota: int | None = None
    workspace_daily_quota: int | None = None
    user_active_limit: int | None = None
    max_duration: float | None = None
    story_threads: bool | None = None
    updated_at: datetime | None = None


WORKSPACE_SETTING_FIELDS: tuple[str, ...] = (
    "community_channel",
    "default_mode",
    "default_visibility",
    "user_daily_quota",
    "workspace_daily_quota",
    "user_active_limit",
    "max_duration",
    "story_threads",
)
