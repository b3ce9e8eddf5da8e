"""Trending lists: the events they are computed from, and the stored results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import ContentStats, Rating, Trending, ViewingProgress
from db.models.base import utcnow


@dataclass(frozen=True)
class Window:
    name: str
    span: timedelta
    half_life: timedelta


WINDOWS = {
    "day": Window("day", timedelta(days=1), timedelta(hours=6)),
    "week": Window("week", timedelta(days=7), timedelta(days=2)),
}


def recent_events(
    *, session: Session, since: datetime, now: datetime
) -> list[tuple[int, float, float]]:
    """(item, age in seconds, weight) of the ratings and views since `since`."""
    rated = session.execute(
        select(Rating.content_id, Rating.rated_at, Rating.score).where(Rating.rated_at >= since)
    ).all()
    viewed = session.execute(
        select(ViewingProgress.content_id, ViewingProgress.watched_at).where(
            ViewingProgress.watched_at >= since
        )
    ).all()
    # A rating says more than a view, a good rating more than a bad one.
    return [(item, (now - at).total_seconds(), 0.5 + score / 5) for item, at, score in rated] + [
        (item, (now - at).total_seconds(), 1.0) for item, at in viewed
    ]


def store(*, session: Session, window: str, ranked: list[tuple[int, float]]) -> None:
    """Replace the window's list (the old one stays readable until the caller commits)."""
    session.execute(delete(Trending).where(Trending.window == window))
    now = utcnow()
    session.add_all(
        Trending(window=window, rank=rank, content_id=item, score=score, computed_at=now)
        for rank, (item, score) in enumerate(ranked, start=1)
    )
    session.flush()


def stored(*, session: Session, window: str, limit: int) -> list[int]:
    ids = session.scalars(
        select(Trending.content_id)
        .where(Trending.window == window)
        .order_by(Trending.rank)
        .limit(limit)
    )
    return list(ids)


def most_rated(*, session: Session, limit: int) -> list[int]:
    """What to show before any trending list was computed."""
    return list(
        session.scalars(
            select(ContentStats.content_id)
            .where(ContentStats.rating_count > 0)
            .order_by(ContentStats.rating_count.desc(), ContentStats.content_id)
            .limit(limit)
        )
    )
