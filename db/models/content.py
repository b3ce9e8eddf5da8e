from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.models.base import Base, BigId, UTCDateTime, utcnow

if TYPE_CHECKING:
    from db.models.media import Video

content_genres = Table(
    "content_genres",
    Base.metadata,
    Column("content_id", ForeignKey("content.id", ondelete="CASCADE"), primary_key=True),
    Column("genre_id", ForeignKey("genres.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Genre(Base):
    __tablename__ = "genres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class Content(Base):
    __tablename__ = "content"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    release_year: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Where an imported title came from (e.g. "ml-100k", "42"); re-imports upsert on it.
    source: Mapped[str | None] = mapped_column(String(32))
    source_id: Mapped[str | None] = mapped_column(String(64))

    genres: Mapped[list[Genre]] = relationship(secondary=content_genres, lazy="selectin")
    stats: Mapped[ContentStats | None] = relationship(lazy="selectin", viewonly=True)
    video: Mapped[Video | None] = relationship(lazy="selectin", viewonly=True)

    __table_args__ = (
        CheckConstraint("release_year IS NULL OR release_year BETWEEN 1870 AND 2200", name="year"),
        CheckConstraint("duration_s IS NULL OR duration_s >= 0", name="duration"),
        UniqueConstraint("source", "source_id", name="uq_content_source"),
    )


class ContentStats(Base):
    """Derived from ratings by the `ratings` queue; always recomputable from source.

    Every content row has one (made with the content), so catalogue sorts can
    inner-join it and walk its indexes.
    """

    __tablename__ = "content_stats"

    content_id: Mapped[int] = mapped_column(
        ForeignKey("content.id", ondelete="CASCADE"), primary_key=True
    )
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_mean: Mapped[float | None] = mapped_column(Float)
    rating_bayesian: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("rating_count >= 0", name="count"),
        # The catalogue's "popular" sort walks this; the "rating" sort's index
        # (DESC NULLS LAST) is written per dialect in migration 0003.
        Index("ix_content_stats_popular", rating_count.desc(), "content_id"),
    )


class Trending(Base):
    """The latest trending lists, one per window, recomputed on a schedule."""

    __tablename__ = "trending"

    window: Mapped[str] = mapped_column(String(8), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("content.id", ondelete="CASCADE"), index=True
    )
    score: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
