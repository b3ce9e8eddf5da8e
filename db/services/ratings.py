"""Ratings and the content statistics derived from them. Callers commit."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from math import inf
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import CursorResult, Select, bindparam, case, delete, func, select, text
from sqlalchemy.orm import Session

from db.errors import InvalidInput, NotFound
from db.id_lists import among
from db.models import Content, ContentStats, Job, Rating, User
from db.models.base import utcnow
from db.services import refresh_backlog, stats_backlog
from db.services.content import lock_content
from db.services.jobs import enqueue_keyed
from db.services.pending_marks import stamp, write_and_mark
from db.services.recommender import any_active
from db.services.refresh_backlog import REFRESH
from db.services.stats_backlog import PRIOR_WEIGHT, STATS
from db.upsert import upsert

# How long a process trusts that a model is live, per engine (or test connection).
LIVE_MODEL_TTL_S = 5.0
_live_seen: WeakKeyDictionary[Any, float] = WeakKeyDictionary()


@dataclass(frozen=True)
class PublicRating:
    """One viewer's rating as anyone may see it: the name they chose, never the email."""

    display_name: str
    score: float
    rated_at: datetime


@dataclass(frozen=True)
class RatingSaved:
    content_id: int
    score: float
    rated_at: datetime
    job: Job


def validate_score(score: float) -> float:
    score = float(score)
    if not 0.5 <= score <= 5.0 or not (score * 2).is_integer():
        raise InvalidInput(
            "The score is not valid.",
            details={"score": "must be between 0.5 and 5.0 in steps of 0.5"},
        )
    return score


def _require_content(session: Session, content_id: int) -> None:
    if session.scalar(select(Content.id).where(Content.id == content_id)) is None:
        raise NotFound(f"No content {content_id}.")


def rate(*, session: Session, user_id: int, content_id: int, score: float) -> RatingSaved:
    """Upsert the user's rating and mark the title's stats (and, once a model is live,
    the viewer's list) due, in the same transaction. NotFound, with nothing written,
    when the title does not exist."""
    score = validate_score(score)
    rated_at = utcnow()
    live = _model_live(session)
    written, marked = _upsert_if_content(session, user_id, content_id, score, rated_at, live)
    if not written:
        raise NotFound(f"No content {content_id}.")
    job = _queue_recompute(session, content_id, user_id, live=live, marked=marked)
    return RatingSaved(content_id=content_id, score=score, rated_at=rated_at, job=job)


def _upsert_if_content(
    session: Session,
    user_id: int,
    content_id: int,
    score: float,
    rated_at: datetime,
    live: bool,
) -> tuple[bool, tuple[bool, bool]]:
    """The existence check and the write in one statement, on PostgreSQL with the marks
    too: (written, (stats marked, list marked)); nothing written when the title does
    not exist."""
    params = {"user_id": user_id, "content_id": content_id, "score": score, "rated_at": rated_at}
    if live:
        params["token"] = stamp()
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(_UPSERT_AND_MARK_BOTH if live else _UPSERT_AND_MARK, params).one()
        return bool(row[0]), (bool(row[1]), bool(row[2]) if live else False)
    result = session.execute(_UPSERT_IF_CONTENT, params)
    return isinstance(result, CursorResult) and result.rowcount == 1, (False, False)


# Text, compiled once (SQLAlchemy 2.0 compiles a dialect's ON CONFLICT statement anew on
# every execution). The same SQL on PostgreSQL and SQLite, which needs the WHERE.
_UPSERT = (
    "INSERT INTO ratings (user_id, content_id, score, rated_at) "
    "SELECT :user_id, id, :score, :rated_at FROM content WHERE id = :content_id "
    "ON CONFLICT (user_id, content_id) "
    "DO UPDATE SET score = excluded.score, rated_at = excluded.rated_at"
)
_RATED_AT = bindparam("rated_at", type_=Rating.__table__.c.rated_at.type)
_UPSERT_IF_CONTENT = text(_UPSERT).bindparams(_RATED_AT)
# PostgreSQL: the marks (db/services/pending_marks.py) ride in the same statement.
_UPSERT_AND_MARK = text(write_and_mark(_UPSERT, [STATS])).bindparams(_RATED_AT)
_UPSERT_AND_MARK_BOTH = text(write_and_mark(_UPSERT, [STATS, REFRESH])).bindparams(_RATED_AT)


def unrate(*, session: Session, user_id: int, content_id: int) -> Job | None:
    deleted = session.execute(
        delete(Rating).where(Rating.user_id == user_id, Rating.content_id == content_id)
    )
    if not getattr(deleted, "rowcount", 0):
        _require_content(session, content_id)  # only now: a deleted rating proves the title
        return None
    return _queue_recompute(session, content_id, user_id, live=_model_live(session))


def _model_live(session: Session) -> bool:
    """any_active, remembered for a few seconds per database once true. It only decides
    whether a rating also marks the viewer's list due; "no model yet" is never cached,
    so the first model counts from the first rating after its activation."""
    bind = session.get_bind()
    if time.monotonic() - _live_seen.get(bind, -inf) < LIVE_MODEL_TTL_S:
        return True
    live = any_active(session=session)
    if live:
        _live_seen[bind] = time.monotonic()
    return live


def _queue_recompute(
    session: Session,
    content_id: int,
    user_id: int,
    *,
    live: bool,
    marked: tuple[bool, bool] = (False, False),
) -> Job:
    """The item's stats, and (once a model is live) the user's own list, move soon: both
    marked, and the platform's stats drain queued or joined, which queues the list drain
    after it (db/services/stats_backlog.py, refresh_backlog.py). Returns the stats drain."""
    if not marked[0]:
        stats_backlog.mark(session=session, content_id=content_id)
    if live and not marked[1]:
        refresh_backlog.mark(session=session, user_id=user_id)
    drain: tuple[str, dict[str, Any], str] = (stats_backlog.DRAIN_TYPE, {}, stats_backlog.DRAIN_KEY)
    return enqueue_keyed(session=session, jobs=[drain])[0]


# A title's rating count that is cheap to count exactly (an index range this long).
EXACT_TOTAL_BELOW = 10_000


def list_for_content(
    *, session: Session, content_id: int, page: int, per_page: int
) -> tuple[list[PublicRating], int]:
    """A title's ratings, newest first (ties by user, so pages never overlap); 404 when
    the title is unknown. Served by the (content_id, rated_at) index. The total is
    counted exactly up to EXACT_TOTAL_BELOW ratings; past that it is the title's stats
    count, which the stats drain keeps within seconds of each rating: counting took
    7.2 s for a title with 815,577 ratings (docs/BENCHMARKS.md)."""
    _require_content(session, content_id)
    rows = session.execute(
        select(User.display_name, Rating.score, Rating.rated_at)
        .join(User, User.id == Rating.user_id)
        .where(Rating.content_id == content_id)
        .order_by(Rating.rated_at.desc(), Rating.user_id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    exact = (
        select(func.count())
        .select_from(Rating)
        .where(Rating.content_id == content_id)
        .scalar_subquery()
    )
    total = session.scalar(
        select(
            case(
                (ContentStats.rating_count < EXACT_TOTAL_BELOW, exact),
                else_=ContentStats.rating_count,
            )
        ).where(ContentStats.content_id == content_id)
    )
    items = [PublicRating(display_name=n, score=s, rated_at=at) for n, s, at in rows]
    return items, int(total or 0)


def global_mean(*, session: Session) -> float | None:
    """The prior of the Bayesian average: the mean of all ratings."""
    value = session.scalar(select(func.avg(Rating.score)))
    return float(value) if value is not None else None


def get_rating(*, session: Session, user_id: int, content_id: int) -> Rating | None:
    return session.get(Rating, (user_id, content_id))


def recompute_stats(
    *, session: Session, content_id: int, prior_mean: float | None = None
) -> dict[str, Any]:
    """Recompute from the ratings table: idempotent, however often it runs.

    Locking the content row first serialises concurrent recomputes of one item,
    so the aggregate is always read after the previous writer committed.
    """
    if not lock_content(session=session, content_id=content_id, key_share=True):
        return {"content_id": content_id, "deleted": True}
    count, mean = session.execute(
        select(func.count(), func.avg(Rating.score)).where(Rating.content_id == content_id)
    ).one()
    prior = prior_mean if prior_mean is not None else global_mean(session=session)
    bayesian = None
    if count and prior is not None:
        bayesian = (PRIOR_WEIGHT * prior + float(mean) * count) / (PRIOR_WEIGHT + count)
    values = {
        "content_id": content_id,
        "rating_count": int(count),
        "rating_mean": float(mean) if mean is not None else None,
        "rating_bayesian": bayesian,
        "updated_at": utcnow(),
    }
    upsert(session, ContentStats.__table__, values, keys=("content_id",))  # type: ignore[arg-type]
    return {
        "content_id": content_id,
        "count": values["rating_count"],
        "mean": values["rating_mean"],
    }


def scores_for_users(*, session: Session, user_ids: Sequence[int]) -> dict[int, dict[int, float]]:
    """Everything each user rated, in one query: user id -> content id -> score (a user
    who rated nothing maps to an empty dict)."""
    found: dict[int, dict[int, float]] = {user_id: {} for user_id in user_ids}
    if not found:
        return found
    statement = _scores_of(session.get_bind().dialect.name)
    for user_id, content_id, score in session.execute(statement, {"ids": list(found)}):
        found[user_id][content_id] = score
    return found


@lru_cache(maxsize=4)
def _scores_of(dialect: str) -> Select[tuple[int, int, float]]:
    columns = (Rating.user_id, Rating.content_id, Rating.score)
    return select(*columns).where(among(Rating.user_id, "ids", dialect))
