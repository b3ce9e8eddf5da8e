"""Viewing progress and history. Callers commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CursorResult, bindparam, func, select, text
from sqlalchemy.orm import Session

from db.errors import NotFound
from db.models import Rating, ViewingProgress
from db.models.base import utcnow


@dataclass(frozen=True)
class HistoryEntry:
    content_id: int
    position_s: float
    completed: bool
    watched_at: datetime
    your_rating: float | None


def record_progress(
    *, session: Session, user_id: int, content_id: int, position_s: float, completed: bool
) -> None:
    """NotFound, with nothing written, when the title does not exist."""
    params = {
        "user_id": user_id,
        "content_id": content_id,
        "position_s": position_s,
        "completed": completed,
        "watched_at": utcnow(),
    }
    written = session.execute(_UPSERT_IF_CONTENT, params)
    if not (isinstance(written, CursorResult) and written.rowcount == 1):
        raise NotFound(f"No content {content_id}.")


# The existence check and the write in one statement, as text compiled once (SQLAlchemy
# compiles a dialect's ON CONFLICT anew on every execution); the same SQL on PostgreSQL
# and SQLite. A player reports progress every few seconds: this is a hot write.
_UPSERT_IF_CONTENT = text(
    "INSERT INTO viewing_progress (user_id, content_id, position_s, completed, watched_at) "
    "SELECT :user_id, id, :position_s, :completed, :watched_at FROM content "
    "WHERE id = :content_id "
    "ON CONFLICT (user_id, content_id) DO UPDATE SET position_s = excluded.position_s, "
    "completed = excluded.completed, watched_at = excluded.watched_at"
).bindparams(bindparam("watched_at", type_=ViewingProgress.__table__.c.watched_at.type))


def resume_position(*, session: Session, user_id: int, content_id: int) -> float:
    """Where the user stopped (0 when never started or finished)."""
    row = session.get(ViewingProgress, (user_id, content_id))
    return 0.0 if row is None or row.completed else float(row.position_s)


def history(
    *, session: Session, user_id: int, page: int, per_page: int
) -> tuple[list[HistoryEntry], int]:
    total = session.scalar(
        select(func.count()).select_from(ViewingProgress).where(ViewingProgress.user_id == user_id)
    )
    rows = session.execute(
        select(
            ViewingProgress.content_id,
            ViewingProgress.position_s,
            ViewingProgress.completed,
            ViewingProgress.watched_at,
            Rating.score,
        )
        .outerjoin(
            Rating,
            (Rating.content_id == ViewingProgress.content_id) & (Rating.user_id == user_id),
        )
        .where(ViewingProgress.user_id == user_id)
        .order_by(ViewingProgress.watched_at.desc(), ViewingProgress.content_id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    entries = [HistoryEntry(*row) for row in rows]
    return entries, int(total or 0)
