from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, BigId, UTCDateTime, utcnow


class ViewingProgress(Base):
    """Where a user stopped in a title: history and continue-watching read it."""

    __tablename__ = "viewing_progress"

    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    content_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("content.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position_s: Mapped[float] = mapped_column(Float, default=0.0)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    watched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("position_s >= 0", name="position"),
        Index("ix_viewing_progress_user_watched", "user_id", "watched_at"),
    )
