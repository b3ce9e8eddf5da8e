from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, UTCDateTime, utcnow


class Rating(Base):
    """One per user and content (the primary key says so), 0.5-5.0 in half steps."""

    __tablename__ = "ratings"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    content_id: Mapped[int] = mapped_column(
        ForeignKey("content.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # A title's ratings newest first (GET /content/{id}/ratings); it also indexes the
        # foreign key, which leads it.
        Index("ix_ratings_content_rated_at", "content_id", rated_at.desc(), user_id.desc()),
        CheckConstraint(
            "score >= 0.5 AND score <= 5.0 AND score * 2 = CAST(score * 2 AS INTEGER)",
            name="score_half_steps",
        ),
    )


class StatsPending(Base):
    """A title whose ratings changed since its content_stats were computed: the rating
    writes add it, one coalesced `ratings.recompute_stats` job drains them in batches
    (db/services/stats_backlog.py). No foreign key: a rating would pay for its lock
    check, and the drain skips a title that has gone."""

    __tablename__ = "stats_pending"

    content_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
