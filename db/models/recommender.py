from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, BigId, JsonDoc, UTCDateTime, utcnow


class RecModel(Base):
    """A trained model version: what it is, how it scored offline, where its artifact lives.

    One active version per purpose: "ranking" serves top-N lists and similar items,
    "rating" serves predicted ratings.
    """

    __tablename__ = "rec_models"

    version: Mapped[int] = mapped_column(BigId, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    algorithm: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    artifact_key: Mapped[str] = mapped_column(String(255))
    trained_ratings: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    decision: Mapped[str | None] = mapped_column(String(200))
    job_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("purpose IN ('ranking', 'rating')", name="purpose"),
        Index(
            "uq_rec_models_active",
            "purpose",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )


class RefreshPending(Base):
    """A viewer whose ratings changed since their list was folded in: the rating writes
    add them once a model is live, one coalesced `recommender.refresh_user` job drains
    them in batches (db/services/refresh_backlog.py). No foreign key, as stats_pending:
    the drain skips a viewer who has gone."""

    __tablename__ = "refresh_pending"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # A random stamp each marking writes anew: the drain removes the marks whose stamp
    # it read, so one that a rating stamped meanwhile stays for the next drain.
    token: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class Recommendation(Base):
    """A user's current top-N, written in bulk by the scoring job; the web only reads."""

    __tablename__ = "recommendations"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("content.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("rec_models.version", ondelete="SET NULL"), index=True
    )
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SimilarItem(Base):
    """Each title's nearest titles in the ranking model's item space."""

    __tablename__ = "similar_items"

    content_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("content.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    similar_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("content.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(Float)
    model_version: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("rec_models.version", ondelete="SET NULL"), index=True
    )


class RatingFactors(Base):
    """The rating model's bias and factor vector per user and item (float32 bytes).

    The web computes a predicted rating from two rows: mu + bu + bi + pu.qi.
    """

    __tablename__ = "rating_factors"

    model_version: Mapped[int] = mapped_column(
        BigId, ForeignKey("rec_models.version", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(4), primary_key=True)
    entity_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bias: Mapped[float] = mapped_column(Float)
    vector: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (CheckConstraint("kind IN ('user', 'item', 'mean')", name="kind"),)


class Schedule(Base):
    """An operator's recurring job (five-field cron, UTC)."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    job_type: Mapped[str] = mapped_column(String(64))
    cron: Mapped[str] = mapped_column(String(100))
    args: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduleRun(Base):
    """One row per fired slot: the primary key is what stops two beats firing it twice."""

    __tablename__ = "schedule_runs"

    schedule_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
