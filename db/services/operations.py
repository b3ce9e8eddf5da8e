"""What operators watch: job counts, the outbox, job durations, queue depths, beat.

One source for /api/v1/admin/operations and the /metrics collector. Every query is
an index range or an index-only scan (jobs(status, created_at), jobs(type, status),
the partial index of unpublished rows), and `bound_statement_time` caps them, so a
scrape cannot pile up behind a slow database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import ColumnElement, case, func, select, text
from sqlalchemy.orm import Session

from db import beat_heartbeat
from db.broker import CeleryPublisher
from db.models import Job
from db.queue_depths import queue_depths, queue_names
from db.services.jobs import FINISHED

# The statuses an operator acts on; succeeded rows are counted by the metrics only.
WATCHED = ("queued", "running", "failed", "dead")
# Upper bounds (seconds) of the job duration histogram's buckets; +Inf is implied.
DURATION_BUCKETS_S = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)
DURATION_WINDOW = timedelta(hours=24)
# Jobs are looked up by creation time (indexed); one that took longer than this from
# creation to finish falls outside the window.
_CREATED_SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class OutboxState:
    unpublished: int  # queued rows not yet handed to the broker (due or waiting a backoff)
    lag_s: float  # how long the oldest due one has waited; 0 when none is due


@dataclass(frozen=True)
class DurationHistogram:
    type: str
    status: str
    buckets: list[tuple[float, int]]  # (upper bound, cumulative count), +Inf last
    sum_s: float


@dataclass(frozen=True)
class BeatState:
    last_tick_at: datetime | None
    age_s: float | None


@dataclass(frozen=True)
class QueueState:
    depth: int | None  # None: the broker could not be asked


@dataclass(frozen=True)
class Overview:
    queues: dict[str, QueueState]
    outbox: OutboxState
    jobs: dict[str, int]
    beat: BeatState
    problems: list[str] = field(default_factory=list)


def bound_statement_time(*, session: Session, seconds: float) -> None:
    """Cap every statement of this transaction (PostgreSQL; a no-op elsewhere)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))


def counts_by_type_and_status(*, session: Session) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(Job.type, Job.status, func.count()).group_by(Job.type, Job.status)
    )
    return {(type_, status): int(n) for type_, status, n in rows}


def watched_counts(*, session: Session) -> dict[str, int]:
    """Rows per status an operator acts on: queued, running, failed, dead."""
    rows = session.execute(
        select(Job.status, func.count()).where(Job.status.in_(WATCHED)).group_by(Job.status)
    )
    counts = dict.fromkeys(WATCHED, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


def outbox_state(*, session: Session, now: datetime) -> OutboxState:
    due_at = func.coalesce(Job.not_before, Job.created_at)
    count, oldest_due = session.execute(
        select(func.count(), func.min(due_at)).where(
            Job.status == "queued", Job.published_at.is_(None)
        )
    ).one()
    lag = max(0.0, (now - oldest_due).total_seconds()) if oldest_due is not None else 0.0
    return OutboxState(unpublished=int(count), lag_s=lag)


def _seconds(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def job_durations(
    *,
    session: Session,
    now: datetime,
    window: timedelta = DURATION_WINDOW,
    buckets: tuple[float, ...] = DURATION_BUCKETS_S,
) -> list[DurationHistogram]:
    """finished_at - started_at of the jobs that finished within `window`, per type and
    final status, counted into cumulative buckets by the database."""
    since = now - window
    rows = (
        select(
            Job.type.label("type"),
            Job.status.label("status"),
            _seconds(session, Job.started_at, Job.finished_at).label("seconds"),
        )
        .where(
            Job.status.in_(sorted(FINISHED)),
            Job.created_at >= since - _CREATED_SLACK,
            Job.finished_at >= since,
            Job.started_at.is_not(None),
        )
        .subquery()
    )
    seconds = rows.c.seconds
    result = session.execute(
        select(
            rows.c.type,
            rows.c.status,
            func.count(),
            func.coalesce(func.sum(seconds), 0.0),
            *(func.sum(case((seconds <= bound, 1), else_=0)) for bound in buckets),
        ).group_by(rows.c.type, rows.c.status)
    )
    histograms = []
    for type_, status, count, total, *cumulative in result:
        pairs = [(bound, int(n)) for bound, n in zip(buckets, cumulative, strict=True)]
        pairs.append((float("inf"), int(count)))
        histograms.append(
            DurationHistogram(type=type_, status=status, buckets=pairs, sum_s=float(total))
        )
    return histograms


def beat_state(*, cache: redis.Redis | None, now: datetime) -> BeatState:
    """Beat's last tick from its heartbeat in Redis; nothing known without Redis."""
    if cache is None:
        return BeatState(last_tick_at=None, age_s=None)
    at = beat_heartbeat.last_tick(cache)
    if at is None:
        return BeatState(last_tick_at=None, age_s=None)
    return BeatState(last_tick_at=at, age_s=max(0.0, (now - at).total_seconds()))


def overview(
    *,
    session: Session,
    publisher: CeleryPublisher,
    cache: redis.Redis | None,
    now: datetime,
) -> Overview:
    """The operations page's numbers. The database must answer; a broker or cache that
    does not leaves its part empty (None) and names it in `problems`."""
    bound_statement_time(session=session, seconds=5)
    jobs = watched_counts(session=session)
    outbox = outbox_state(session=session, now=now)
    problems: list[str] = []
    try:
        queues = {name: QueueState(n) for name, n in queue_depths(publisher).items()}
    except Exception:  # broker down: the rest of the page still helps
        queues = {name: QueueState(None) for name in queue_names(publisher)}
        problems.append("broker")
    try:
        beat = beat_state(cache=cache, now=now)
    except redis.RedisError:
        beat = BeatState(last_tick_at=None, age_s=None)
        problems.append("cache")
    return Overview(queues=queues, outbox=outbox, jobs=jobs, beat=beat, problems=problems)
