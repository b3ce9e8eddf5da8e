"""catalogue at scale

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


# Title search is `lower(title) LIKE '%q%'`; on PostgreSQL a trigram index serves it.
TITLE_TRGM = "CREATE INDEX ix_content_title_trgm ON content USING gin (lower(title) gin_trgm_ops)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(TITLE_TRGM)
    op.create_table(
        "trending",
        sa.Column("window", sa.String(length=8), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column(
            "content_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["content.id"],
            name=op.f("fk_trending_content_id_content"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("window", "rank", name=op.f("pk_trending")),
    )
    with op.batch_alter_table("trending", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trending_content_id"), ["content_id"], unique=False)

    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("source_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_content_source", ["source", "source_id"])

    # ORDER BY rating_bayesian DESC NULLS LAST: PostgreSQL needs the index to say so;
    # SQLite cannot say it in an index, and scans a plain one either way.
    nulls_last = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    op.execute(
        "CREATE INDEX ix_content_stats_bayesian ON content_stats "
        f"(rating_bayesian DESC{nulls_last}, content_id)"
    )
    with op.batch_alter_table("content_stats", schema=None) as batch_op:
        batch_op.create_index(
            "ix_content_stats_popular",
            [sa.literal_column("rating_count DESC"), "content_id"],
            unique=False,
        )

    # Every content row gets its stats row (zero ratings), so sorts can inner-join.
    op.execute(
        "INSERT INTO content_stats (content_id, rating_count, updated_at) "
        "SELECT c.id, 0, c.created_at FROM content c "
        "WHERE NOT EXISTS (SELECT 1 FROM content_stats s WHERE s.content_id = c.id)"
    )

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedup_key", sa.String(length=128), nullable=True))
        batch_op.create_index(
            "uq_jobs_queued_dedup",
            ["dedup_key"],
            unique=True,
            postgresql_where=sa.text("status = 'queued'"),
            sqlite_where=sa.text("status = 'queued'"),
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("source_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_users_source", ["source", "source_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_content_title_trgm")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_source", type_="unique")
        batch_op.drop_column("source_id")
        batch_op.drop_column("source")

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_jobs_queued_dedup",
            postgresql_where=sa.text("status = 'queued'"),
            sqlite_where=sa.text("status = 'queued'"),
        )
        batch_op.drop_column("dedup_key")

    op.execute("DROP INDEX IF EXISTS ix_content_stats_bayesian")
    with op.batch_alter_table("content_stats", schema=None) as batch_op:
        batch_op.drop_index("ix_content_stats_popular")

    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.drop_constraint("uq_content_source", type_="unique")
        batch_op.drop_column("source_id")
        batch_op.drop_column("source")

    with op.batch_alter_table("trending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trending_content_id"))

    op.drop_table("trending")
