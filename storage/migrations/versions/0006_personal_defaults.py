"""personal defaults: a person's own length, mode, privacy and style in a workspace

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_defaults",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("workspace", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("mode", sa.String(16), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=True),
        sa.Column("style", sa.String(32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("personal_defaults")
