"""Titles whose stats wait for a recompute, and the grouped recompute that drains them.
Callers commit.

A rating (or its deletion) marks its title in its own transaction and queues the one
platform-wide drain job (dedup key `stats:pending`): while that job is queued, every
further rating joins it (a share lock on its row; no new row, no message), so a burst
of ratings on many titles costs the `ratings` queue one job, not one per title (the
marks and their locks: db/services/pending_marks.py).

The drain takes a batch of marks and locks their titles in id order (FOR NO KEY
UPDATE: two drains of one title take turns, and each reads the ratings after its
lock, so the last to write has the newest). A rating that commits after the drain
took its title's mark marks it again (waiting for the drain's commit when the two
collide) and queues a new drain, because the running one is no longer queued; one
that joined the queued job is committed before the job can start (the share lock).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Table,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.models import Content, ContentStats, Job, Rating, StatsPending
from db.models.base import UTCDateTime, utcnow
from db.services import pending_marks
from db.services.jobs import enqueue
from db.services.pending_marks import Backlog

# Bayesian prior weight, in ratings: the formula of every title's rating_bayesian.
PRIOR_WEIGHT = 10
DRAIN_TYPE = "ratings.recompute_stats"
DRAIN_KEY = "stats:pending"
BATCH = 2000  # titles per drain transaction; a full batch queues the next drain
STATS = Backlog(StatsPending.__table__)  # type: ignore[arg-type]
_STATS: Table = ContentStats.__table__  # type: ignore[assignment]
_RATINGS: Table = Rating.__table__  # type: ignore[assignment]


def mark(*, session: Session, content_id: int) -> None:
    """The title's stats are due (the caller queues or joins the drain)."""
    pending_marks.mark(session=session, backlog=STATS, key=content_id)


def queue_drain(*, session: Session) -> Job:
    return enqueue(session=session, type=DRAIN_TYPE, args={}, dedup_key=DRAIN_KEY)


def drain(*, session: Session, prior_mean: float | None, limit: int = BATCH) -> list[int]:
    """Recompute up to `limit` marked titles: the ids of those that still exist. A full
    batch queues the next drain (committed with this one)."""
    taken = pending_marks.take(session=session, backlog=STATS, limit=limit)
    if not taken:
        return []
    lock = select(Content.id).where(Content.id.in_(taken)).order_by(Content.id)
    if session.get_bind().dialect.name != "sqlite":  # SQLite: the DELETE took its write lock
        lock = lock.with_for_update(key_share=True)
    live = list(session.scalars(lock))
    if live:
        recompute(session, select(Content.id.label("content_id")).where(Content.id.in_(live)),
                  prior_mean=prior_mean)  # fmt: skip
    if len(taken) == limit:
        queue_drain(session=session)
    return live


def recompute(session: Session, affected: Select[Any], *, prior_mean: float | None) -> None:
    """content_stats of the titles `affected` selects (a `content_id` column), from the
    ratings table in one grouped statement; rows that come out the same are not
    written, so recomputing twice changes nothing."""
    titles = affected.subquery("affected")
    prior = cast(literal(prior_mean or 0.0), Float)
    count = func.count(_RATINGS.c.score)
    mean = func.avg(_RATINGS.c.score)
    bayesian = case(
        (and_(count > 0, literal(prior_mean is not None)),
         (PRIOR_WEIGHT * prior + mean * count) / (PRIOR_WEIGHT + count))
    )  # fmt: skip
    rows = (
        select(titles.c.content_id, count, mean, bayesian, literal(utcnow(), UTCDateTime()))
        .select_from(titles.outerjoin(_RATINGS, _RATINGS.c.content_id == titles.c.content_id))
        .where(true())  # SQLite's parser needs a WHERE before ON CONFLICT
        .group_by(titles.c.content_id)
    )
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_STATS)
    upsert = insert.from_select(
        ["content_id", "rating_count", "rating_mean", "rating_bayesian", "updated_at"], rows
    )
    new = upsert.excluded
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=["content_id"],
            set_={name: new[name] for name in _CHANGED},
            where=or_(
                _STATS.c.rating_count != new.rating_count,
                _differs(_STATS.c.rating_mean, new.rating_mean),
                _differs(_STATS.c.rating_bayesian, new.rating_bayesian),
            ),
        )
    )


_CHANGED: Sequence[str] = ("rating_count", "rating_mean", "rating_bayesian", "updated_at")


def _differs(old: ColumnElement[Any], new: ColumnElement[Any]) -> ColumnElement[bool]:
    # Sums over the same rows may round differently from run to run (parallel plans).
    return or_(
        and_(old.is_(None), new.is_not(None)),
        and_(old.is_not(None), new.is_(None)),
        func.abs(old - new) > 1e-9,
    )
