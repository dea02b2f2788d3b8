"""likes: ⭐ on a public piece's community post, counted per person; /top reads them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "likes",
        sa.Column(
            "generation_id",
            sa.String(16),
            sa.ForeignKey("generations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_likes_created", "likes", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_likes_created", table_name="likes")
    op.drop_table("likes")
