"""share links: unguessable, revocable links to one piece on the web; the gallery's index

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column(
            "generation_id",
            sa.String(16),
            sa.ForeignKey("generations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("ix_share_links_generation", "share_links", ["generation_id"])
    op.create_index("ix_generations_created", "generations", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_generations_created", table_name="generations")
    op.drop_index("ix_share_links_generation", table_name="share_links")
    op.drop_table("share_links")
