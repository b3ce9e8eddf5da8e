"""Viewing progress and history. Callers commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Rating, ViewingProgress
from db.models.base import utcnow
from db.services.content import get_content
from db.upsert import upsert


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
    get_content(session=session, content_id=content_id)
    upsert(
        session,
        ViewingProgress.__table__,  # type: ignore[arg-type]
        {
            "user_id": user_id,
            "content_id": content_id,
            "position_s": position_s,
            "completed": completed,
            "watched_at": utcnow(),
        },
        keys=("user_id", "content_id"),
    )


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
