"""deliveries: where the person waits for a piece, whether its outcome was posted, the lease

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of the table): SQLite supports it, and a copy would
    # cascade-delete the artifacts of every generation with foreign keys on.
    op.add_column("generations", sa.Column("progress_message_id", sa.String(128), nullable=True))
    op.add_column("generations", sa.Column("delivered_at", TS, nullable=True))
    op.add_column("generations", sa.Column("delivery_owner", sa.String(128), nullable=True))
    op.add_column("generations", sa.Column("delivery_lease_until", TS, nullable=True))
    op.add_column(
        "generations",
        sa.Column("delivery_attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_generations_undelivered", "generations", ["platform", "delivered_at", "created_at"]
    )
    # Pieces that ended before this revision were answered by the bot that asked (or nobody
    # knows): never post them again. Those still on their way are delivered by the next bot.
    op.execute(
        "UPDATE generations SET delivered_at = COALESCE(completed_at, updated_at) "
        "WHERE status IN ('done', 'failed', 'cancelled')"
    )


def downgrade() -> None:
    op.drop_index("ix_generations_undelivered", table_name="generations")
    for column in (
        "delivery_attempts",
        "delivery_lease_until",
        "delivery_owner",
        "delivered_at",
        "progress_message_id",
    ):
        op.drop_column("generations", column)
