"""refresh_pending.token: each rating stamps its viewer's mark, the drain removes only
the stamps it read, so a drain never holds a mark while it works

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "refresh_pending",
        sa.Column("token", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("refresh_pending", "token")
