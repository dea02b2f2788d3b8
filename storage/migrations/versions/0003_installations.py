"""installations: apps installed into workspaces by OAuth (their tokens), OAuth states

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "installations",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.String(64), primary_key=True),
        sa.Column("workspace", sa.String(64), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=True),
        sa.Column("org_name", sa.String(200), nullable=True),
        sa.Column("workspace_name", sa.String(200), nullable=True),
        sa.Column("org_wide", sa.Boolean(), nullable=False),
        sa.Column("bot_token", sa.Text(), nullable=True),
        sa.Column("bot_id", sa.String(64), nullable=True),
        sa.Column("bot_user_id", sa.String(64), nullable=True),
        sa.Column("bot_scopes", sa.Text(), nullable=True),
        sa.Column("bot_refresh_token", sa.Text(), nullable=True),
        sa.Column("bot_token_expires_at", TS, nullable=True),
        sa.Column("installer_id", sa.String(64), nullable=True),
        sa.Column("user_token", sa.Text(), nullable=True),
        sa.Column("user_scopes", sa.Text(), nullable=True),
        sa.Column("user_refresh_token", sa.Text(), nullable=True),
        sa.Column("user_token_expires_at", TS, nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("installed_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_installations_workspace", "installations", ["platform", "workspace"])
    op.create_table(
        "oauth_states",
        sa.Column("state", sa.String(64), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_index("ix_oauth_states_expires", "oauth_states", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_oauth_states_expires", table_name="oauth_states")
    op.drop_table("oauth_states")
    op.drop_index("ix_installations_workspace", table_name="installations")
    op.drop_table("installations")
