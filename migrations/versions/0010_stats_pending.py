"""stats_pending: the titles whose stats one coalesced job recomputes in batches

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_pending",
        sa.Column("content_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("content_id", name=op.f("pk_stats_pending")),
    )


def downgrade() -> None:
    op.drop_table("stats_pending")
