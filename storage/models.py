"""The history's tables, as SQLAlchemy 2 typed mapped classes.

Bots and the CLI never see these objects: ``storage.store.Store`` turns them into the plain
dataclasses of ``storage.views``. Platform ids (guild, team, channel, user, message) are
opaque strings here: this layer knows nothing of Discord or Slack.

Any change to a table needs a new Alembic revision in ``storage/migrations/versions``
(``tests/storage/test_migrations.py`` fails when the two disagree).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

GENERATION_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")
JOB_STATES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")
VISIBILITIES: tuple[str, ...] = ("public", "private")
ARTIFACT_KINDS: tuple[str, ...] = (
    "audio",
    "midi",
    "abc",
    "score",
    "motivation",
    "summary",
    "source",
    "other",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware.

    SQLite has no time zones and hands back naive values; PostgreSQL keeps them. This type
    makes both behave the same, so comparisons and pagination cursors work everywhere.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Generation(Base):
    """One piece (or an attempt at one): who asked, where, what came out."""

    __tablename__ = "generations"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # "pt-7f3a2c"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()

    # Where it was asked for; opaque platform ids.
    platform: Mapped[str] = mapped_column(String(32))  # "cli", "discord", "slack"
    workspace: Mapped[str] = mapped_column(String(64))  # guild or team id; "local" for the CLI
    channel: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(200))
    # role -> message id of the replies ("reply", "community", ...); see MessageLink.
    message_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Delivering the outcome to the person waiting (storage/deliveries.py): the platform
    # message that shows its progress, when the outcome was posted, and which bot process may
    # post it until when (a lease: a bot that died is replaced once it runs out).
    progress_message_id: Mapped[str | None] = mapped_column(String(128))
    delivered_at: Mapped[datetime | None] = mapped_column()
    delivery_owner: Mapped[str | None] = mapped_column(String(128))
    delivery_lease_until: Mapped[datetime | None] = mapped_column()
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column()

    # The request.
    image_sha256: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    hint: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(Integer)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("generations.id", ondelete="SET NULL")
    )  # rerun lineage
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # duration, rounds, ...

    # The outcome.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    error: Mapped[str | None] = mapped_column(Text)  # the user-facing message of a failure
    caption: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)  # brief.description
    motivation: Mapped[str | None] = mapped_column(Text)
    perception: Mapped[dict[str, Any] | None] = mapped_column()
    brief: Mapped[dict[str, Any] | None] = mapped_column()
    exemplar_ids: Mapped[list[Any]] = mapped_column(default=list)
    abc: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)  # of the best round
    rounds: Mapped[list[Any]] = mapped_column(default=list)  # metrics/targets/distance per round
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    backends: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[list[Any]] = mapped_column(default=list)
    audio_format: Mapped[str | None] = mapped_column(String(8))
    audio_seconds: Mapped[float | None] = mapped_column(Float)
    # caption + brief + hint + motivation, for PostgreSQL's full-text index (SQLite uses FTS5).
    search_text: Mapped[str | None] = mapped_column(Text)
    # float32 L2-normalised sentence embedding of the same text; None until computed.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(64))

    artifacts: Mapped[list[Artifact]] = relationship(
        back_populates="generation", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        Index("ix_generations_ws_created", "workspace", "created_at"),
        Index("ix_generations_user_created", "workspace", "user_id", "created_at"),
        Index("ix_generations_channel_created", "workspace", "channel", "created_at"),
        Index("ix_generations_parent", "parent_id"),
        Index("ix_generations_image", "image_sha256"),
        Index("ix_generations_undelivered", "platform", "delivered_at", "created_at"),
        Index("ix_generations_created", "created_at", "id"),  # the web gallery, newest first
    )


class Artifact(Base):
    """One file of a generation. The bytes live in the content-addressed store by sha256."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # see ARTIFACT_KINDS
    name: Mapped[str] = mapped_column(String(128))  # file name as the user receives it
    path: Mapped[str] = mapped_column(String(256))  # relative to the artifact root
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    generation: Mapped[Generation] = relationship(back_populates="artifacts")

    __table_args__ = (
        UniqueConstraint("generation_id", "name", name="uq_artifacts_generation_name"),
        Index("ix_artifacts_sha256", "sha256"),
    )


class MessageLink(Base):
    """A platform message that shows a generation, so a reaction or button finds it."""

    __tablename__ = "message_links"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32), default="reply")

    __table_args__ = (Index("ix_message_links_generation", "generation_id"),)


class Favourite(Base):
    __tablename__ = "favourites"

    generation_id: Mapped[str] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_favourites_user", "user_id", "created_at"),)


class ShareLink(Base):
    """An unguessable link that opens one piece on the web, private or not, until revoked
    (storage/shares.py). Only a digest of the token is kept: the link itself is shown once."""

    __tablename__ = "share_links"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_share_links_generation", "generation_id"),)


class Like(Base):
    """⭐ on a public piece's community post, by one person (counted for /top)."""

    __tablename__ = "likes"

    generation_id: Mapped[str] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_likes_created", "created_at"),)


class WorkspaceSettings(Base):
    """Per guild/team choices. None means "use the deployment's setting"."""

    __tablename__ = "workspace_settings"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    community_channel: Mapped[str | None] = mapped_column(String(64))
    default_mode: Mapped[str | None] = mapped_column(String(16))
    default_visibility: Mapped[str | None] = mapped_column(String(16))
    user_daily_quota: Mapped[int | None] = mapped_column(Integer)  # pieces per user per day
    workspace_daily_quota: Mapped[int | None] = mapped_column(Integer)
    user_active_limit: Mapped[int | None] = mapped_column(Integer)  # queued+running per user
    max_duration: Mapped[float | None] = mapped_column(Float)
    story_threads: Mapped[bool | None] = mapped_column(Boolean)  # whole stories in threads
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PersonalDefaults(Base):
    """A person's own defaults in a workspace (``/settings me``). None: the workspace's or
    the deployment's default applies; the workspace's limits bound them when used."""

    __tablename__ = "personal_defaults"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    duration: Mapped[float | None] = mapped_column(Float)
    mode: Mapped[str | None] = mapped_column(String(16))
    private: Mapped[bool | None] = mapped_column(Boolean)
    style: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AppInstallation(Base):
    """An app installed into a workspace by its OAuth flow ("Add to Slack"): the tokens the
    bot uses there. One row per app (client id) and workspace, replaced by a reinstall.

    Tokens are secrets: storage/installations.py keeps them out of every repr, nothing logs
    them, and a row goes when the app is uninstalled (the workspace's history stays).
    ``org_id`` and ``workspace`` are "" rather than NULL when absent, so that they can be
    part of the primary key (an org-wide install has no workspace)."""

    __tablename__ = "installations"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # enterprise/org, or ""
    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)  # team id, or ""
    app_id: Mapped[str | None] = mapped_column(String(64))
    org_name: Mapped[str | None] = mapped_column(String(200))
    workspace_name: Mapped[str | None] = mapped_column(String(200))
    org_wide: Mapped[bool] = mapped_column(Boolean, default=False)
    bot_token: Mapped[str | None] = mapped_column(Text)
    bot_id: Mapped[str | None] = mapped_column(String(64))
    bot_user_id: Mapped[str | None] = mapped_column(String(64))
    bot_scopes: Mapped[str | None] = mapped_column(Text)  # comma-separated, as OAuth gives them
    bot_refresh_token: Mapped[str | None] = mapped_column(Text)  # token rotation only
    bot_token_expires_at: Mapped[datetime | None] = mapped_column()
    installer_id: Mapped[str | None] = mapped_column(String(64))  # who installed it
    user_token: Mapped[str | None] = mapped_column(Text)  # only with user scopes
    user_scopes: Mapped[str | None] = mapped_column(Text)
    user_refresh_token: Mapped[str | None] = mapped_column(Text)
    user_token_expires_at: Mapped[datetime | None] = mapped_column()
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # webhook, token type, ...
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_installations_workspace", "platform", "workspace"),)


class OAuthState(Base):
    """The ``state`` of an OAuth flow under way: issued when someone starts installing,
    consumed once when the platform sends them back. In the database (not in memory), so a
    restart between the two, or another bot process taking the redirect, changes nothing."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()

    __table_args__ = (Index("ix_oauth_states_expires", "expires_at"),)


def new_job_id() -> str:
    return uuid.uuid4().hex


class Job(Base):
    """A unit of work for the queue (storage/jobs.py claims, heartbeats and requeues them).

    ``state``: queued -> running -> done | failed | cancelled; a running job whose heartbeat
    is stale goes back to queued while ``attempts < max_attempts``.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_job_id)
    kind: Mapped[str] = mapped_column(String(32), default="compose")
    generation_id: Mapped[str | None] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE")
    )
    state: Mapped[str] = mapped_column(String(16), default="queued")
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher runs first
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(String(128))  # who holds it while running
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    available_at: Mapped[datetime] = mapped_column(default=utcnow)  # not before (retry backoff)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)  # user-facing message
    error_detail: Mapped[str | None] = mapped_column(Text)  # for logs only
    # Who asked, for per-user and per-workspace limits.
    platform: Mapped[str] = mapped_column(String(32), default="cli")
    workspace: Mapped[str] = mapped_column(String(64), default="local")
    user_id: Mapped[str] = mapped_column(String(64), default="local")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_jobs_claim", "state", "priority", "available_at", "created_at"),
        Index("ix_jobs_user_state", "user_id", "state"),
        Index("ix_jobs_workspace_state", "workspace", "state"),
        Index("ix_jobs_generation", "generation_id"),
        Index("ix_jobs_heartbeat", "state", "heartbeat_at"),
    )
