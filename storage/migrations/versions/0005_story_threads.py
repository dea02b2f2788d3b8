"""story threads: whether a workspace wants a piece's whole story told in a thread on its
result (off unless turned on; results show "Why, in brief" and a "Why this music?" button)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspace_settings") as batch:
        batch.add_column(sa.Column("story_threads", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspace_settings") as batch:
        batch.drop_column("story_threads")
