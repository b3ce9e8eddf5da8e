"""ratings: one index for a title's ratings newest first (it also serves the foreign key)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ratings_content_rated_at",
            ["content_id", sa.text("rated_at DESC"), sa.text("user_id DESC")],
            unique=False,
        )
        batch_op.drop_index("ix_ratings_content_id")


def downgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ix_ratings_content_id", ["content_id"], unique=False)
        batch_op.drop_index("ix_ratings_content_rated_at")
