"""recommender and schedules

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("job_type", sa.String(length=64), nullable=False),
        sa.Column("cron", sa.String(length=100), nullable=False),
        sa.Column(
            "args",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_schedules_name")),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedules_next_run_at"), ["next_run_at"], unique=False)

    op.create_table(
        "rec_models",
        sa.Column("version", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("artifact_key", sa.String(length=255), nullable=False),
        sa.Column("trained_ratings", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(length=200), nullable=True),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('ranking', 'rating')", name=op.f("ck_rec_models_purpose")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_rec_models_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rec_models")),
    )
    with op.batch_alter_table("rec_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rec_models_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            "uq_rec_models_active",
            ["purpose"],
            unique=True,
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        )

    op.create_table(
        "schedule_runs",
        sa.Column(
            "schedule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_schedule_runs_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_runs_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("schedule_id", "slot", name=op.f("pk_schedule_runs")),
    )
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_runs_job_id"), ["job_id"], unique=False)

    op.create_table(
        "rating_factors",
        sa.Column(
            "model_version", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column(
            "entity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("bias", sa.Float(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("kind IN ('user', 'item', 'mean')", name=op.f("ck_rating_factors_kind")),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["rec_models.version"],
            name=op.f("fk_rating_factors_model_version_rec_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "model_version", "kind", "entity_id", name=op.f("pk_rating_factors")
        ),
    )
    op.create_table(
        "recommendations",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column(
            "content_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column(
            "model_version", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["content.id"],
            name=op.f("fk_recommendations_content_id_content"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["rec_models.version"],
            name=op.f("fk_recommendations_model_version_rec_models"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recommendations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "rank", name=op.f("pk_recommendations")),
    )
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recommendations_content_id"), ["content_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recommendations_model_version"), ["model_version"], unique=False
        )

    op.create_table(
        "similar_items",
        sa.Column(
            "content_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column(
            "similar_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "model_version", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["content.id"],
            name=op.f("fk_similar_items_content_id_content"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["rec_models.version"],
            name=op.f("fk_similar_items_model_version_rec_models"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["similar_id"],
            ["content.id"],
            name=op.f("fk_similar_items_similar_id_content"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("content_id", "rank", name=op.f("pk_similar_items")),
    )
    with op.batch_alter_table("similar_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_similar_items_model_version"), ["model_version"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_similar_items_similar_id"), ["similar_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("similar_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_similar_items_similar_id"))
        batch_op.drop_index(batch_op.f("ix_similar_items_model_version"))

    op.drop_table("similar_items")
    with op.batch_alter_table("recommendations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recommendations_model_version"))
        batch_op.drop_index(batch_op.f("ix_recommendations_content_id"))

    op.drop_table("recommendations")
    op.drop_table("rating_factors")
    with op.batch_alter_table("schedule_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedule_runs_job_id"))

    op.drop_table("schedule_runs")
    with op.batch_alter_table("rec_models", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_rec_models_active",
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        )
        batch_op.drop_index(batch_op.f("ix_rec_models_job_id"))

    op.drop_table("rec_models")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_schedules_next_run_at"))

    op.drop_table("schedules")
