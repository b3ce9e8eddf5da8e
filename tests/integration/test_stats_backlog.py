"""The stats drain (db/services/stats_backlog.py): marked titles recomputed in one
grouped statement, gone titles skipped, a full batch followed by the next drain, on
PostgreSQL and on the embedded default's SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from db.models import Content, ContentStats, Job, Rating, StatsPending
from db.services import ratings, stats_backlog
from tests.factories import make_content, make_user

Stats = tuple[int, float | None, float | None]


def stats(session: Session, ids: list[int]) -> list[Stats]:
    found = session.scalars(
        select(ContentStats)
        .where(ContentStats.content_id.in_(ids))
        .execution_options(populate_existing=True)
    )
    rows = {s.content_id: (s.rating_count, s.rating_mean, s.rating_bayesian) for s in found}
    return [rows[i] for i in ids]


def queued_drains(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(Job.id).where(Job.dedup_key == stats_backlog.DRAIN_KEY, Job.status == "queued")
        )
    )


def pending(session: Session) -> list[int]:
    return sorted(session.scalars(select(StatsPending.content_id)))


def rate_three_titles(session: Session) -> list[int]:
    fans = [make_user(session).id for _ in range(2)]
    items = [make_content(session).id for _ in range(3)]
    for user, item, score in [(0, 0, 4.0), (1, 0, 2.0), (0, 1, 5.0), (1, 2, 0.5)]:
        ratings.rate(session=session, user_id=fans[user], content_id=items[item], score=score)
    return items


def test_one_drain_recomputes_every_marked_title(db_session: Session) -> None:
    items = rate_three_titles(db_session)
    assert pending(db_session) == sorted(items)
    assert len(queued_drains(db_session)) == 1
    assert sorted(stats_backlog.drain(session=db_session, prior_mean=3.0)) == sorted(items)
    # The Bayesian mean: (10 * prior + sum) / (10 + count).
    assert stats(db_session, items) == [
        (2, 3.0, pytest.approx(36 / 12)),
        (1, 5.0, pytest.approx(35 / 11)),
        (1, 0.5, pytest.approx(30.5 / 11)),
    ]
    assert pending(db_session) == []
    assert stats_backlog.drain(session=db_session, prior_mean=3.0) == []  # nothing left


def test_a_deleted_rating_and_a_deleted_title(db_session: Session) -> None:
    items = rate_three_titles(db_session)
    stats_backlog.drain(session=db_session, prior_mean=3.0)
    user = make_user(db_session).id
    ratings.rate(session=db_session, user_id=user, content_id=items[2], score=3.0)
    db_session.delete(db_session.get_one(Content, items[2]))
    db_session.flush()
    fan = db_session.scalars(select(Rating.user_id).where(Rating.content_id == items[1])).one()
    ratings.unrate(session=db_session, user_id=fan, content_id=items[1])
    assert pending(db_session) == sorted(items[1:])
    assert stats_backlog.drain(session=db_session, prior_mean=3.0) == [items[1]]  # one is gone
    assert stats(db_session, items[:2]) == [(2, 3.0, pytest.approx(3.0)), (0, None, None)]
    assert pending(db_session) == []


def test_a_full_batch_queues_the_next_drain(db_session: Session) -> None:
    items = rate_three_titles(db_session)
    (first,) = queued_drains(db_session)
    db_session.execute(update(Job).values(status="running"))  # as a worker would
    assert stats_backlog.drain(session=db_session, prior_mean=None, limit=2) == sorted(items)[:2]
    (following,) = queued_drains(db_session)
    assert following != first and pending(db_session) == sorted(items)[2:]
    assert stats_backlog.drain(session=db_session, prior_mean=None, limit=2) == sorted(items)[2:]
    assert queued_drains(db_session) == [following]  # a partial batch queues nothing more
    assert stats(db_session, items)[0] == (2, 3.0, None)  # no prior yet: no Bayesian mean


def test_on_sqlite(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        items = rate_three_titles(session)
        session.commit()
        assert len(queued_drains(session)) == 1
        assert sorted(stats_backlog.drain(session=session, prior_mean=3.0)) == sorted(items)
        session.commit()
        assert [s[:2] for s in stats(session, items)] == [(2, 3.0), (1, 5.0), (1, 0.5)]
        assert pending(session) == []
