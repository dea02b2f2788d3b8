"""initial schema: generations, artifacts, message links, favourites, workspace settings, jobs

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=True),
        sa.Column("message_ids", sa.JSON(), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", TS, nullable=True),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column(
            "parent_id",
            sa.String(16),
            sa.ForeignKey("generations.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("motivation", sa.Text(), nullable=True),
        sa.Column("perception", sa.JSON(), nullable=True),
        sa.Column("brief", sa.JSON(), nullable=True),
        sa.Column("exemplar_ids", sa.JSON(), nullable=False),
        sa.Column("abc", sa.Text(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("rounds", sa.JSON(), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("backends", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("audio_format", sa.String(8), nullable=True),
        sa.Column("audio_seconds", sa.Float(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sa.String(64), nullable=True),
    )
    op.create_index("ix_generations_ws_created", "generations", ["workspace", "created_at"])
    op.create_index(
        "ix_generations_user_created", "generations", ["workspace", "user_id", "created_at"]
    )
    op.create_index(
        "ix_generations_channel_created", "generations", ["workspace", "channel", "created_at"]
    )
    op.create_index("ix_generations_parent", "generations", ["parent_id"])
    op.create_index("ix_generations_image", "generations", ["image_sha256"])

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "generation_id",
            sa.String(16),
            sa.ForeignKey("generations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("path", sa.String(256), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("mime", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("generation_id", "name", name="uq_artifacts_generation_name"),
    )
    op.create_index("ix_artifacts_sha256", "artifacts", ["sha256"])

    op.create_table(
        "message_links",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column(
            "generation_id",
            sa.String(16),
            sa.ForeignKey("generations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(32), nullable=False),
    )
    op.create_index("ix_message_links_generation", "message_links", ["generation_id"])

    op.create_table(
        "favourites",
        sa.Column(
            "generation_id",
            sa.String(16),
            sa.ForeignKey("generations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_favourites_user", "favourites", ["user_id", "created_at"])

    op.create_table(
        "workspace_settings",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("workspace", sa.String(64), primary_key=True),
        sa.Column("community_channel", sa.String(64), nullable=True),
        sa.Column("default_mode", sa.String(16), nullable=True),
        sa.Column("default_visibility", sa.String(16), nullable=True),
        sa.Column("user_daily_quota", sa.Integer(), nullable=True),
        sa.Column("workspace_daily_quota", sa.Integer(), nullable=True),
        sa.Column("user_active_limit", sa.Integer(), nullable=True),
        sa.Column("max_duration", sa.Float(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column(
            "generation_id",
            sa.String(16),
            sa.ForeignKey("generations.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(128), nullable=True),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("available_at", TS, nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_jobs_claim", "jobs", ["state", "priority", "available_at", "created_at"])
    op.create_index("ix_jobs_user_state", "jobs", ["user_id", "state"])
    op.create_index("ix_jobs_workspace_state", "jobs", ["workspace", "state"])
    op.create_index("ix_jobs_generation", "jobs", ["generation_id"])
    op.create_index("ix_jobs_heartbeat", "jobs", ["state", "heartbeat_at"])

    # Full-text search: FTS5 on SQLite (kept in step by storage/search.py, in the same
    # transaction as the generation), a GIN expression index on PostgreSQL.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE generation_fts USING fts5("
            "gen_id UNINDEXED, caption, brief, hint, motivation, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    elif op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_generations_fts ON generations "
            "USING gin (to_tsvector('english', coalesce(search_text, '')))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS generation_fts")
    elif op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_generations_fts")
    for table in (
        "jobs",
        "workspace_settings",
        "favourites",
        "message_links",
        "artifacts",
        "generations",
    ):
        op.drop_table(table)
