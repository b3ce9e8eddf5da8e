"""A rating that joins a queued stats drain is never missed by it, nor one that lands
while the drain runs (two real connections; db/services/stats_backlog.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from db.models import Content, ContentStats, Job, StatsPending, User
from db.services import jobs, ratings, stats_backlog
from tests import services
from tests.factories import make_content, make_user
from tests.services import wait_for_lock_wait


@pytest.fixture
def engine() -> Iterator[Engine]:
    with services.migrated_engine("cbrtl_race") as engine:
        yield engine


def test_worker_waits_for_the_rating_that_joined_its_job(engine: Engine) -> None:
    second_user, item, job = rated_once(engine, started=False)

    rating_tx = Session(engine, expire_on_commit=False)
    joined = ratings.rate(session=rating_tx, user_id=second_user.id, content_id=item.id, score=5)
    assert joined.job.id == job.id  # coalesced into the queued job, not yet committed

    outcome: dict[str, object] = {}

    def worker() -> None:
        with Session(engine) as session:
            outcome["pid"] = session.scalar(text("SELECT pg_backend_pid()"))
            jobs.start(session=session, job_id=job.id)  # must wait for the rating's commit
            session.commit()
            assert stats_backlog.drain(session=session, prior_mean=None) == [item.id]
            session.commit()
            outcome["stats"] = stats_of(session, item.id)

    thread = threading.Thread(target=worker)
    thread.start()
    wait_for_lock_wait(engine, outcome, what="the worker to wait for the lock")
    rating_tx.commit()
    rating_tx.close()
    thread.join(timeout=10)
    assert outcome["stats"] == (2, 3.0)


def stats_of(session: Session, content_id: int) -> tuple[int, float | None]:
    row = session.get_one(ContentStats, content_id)
    session.refresh(row)
    return row.rating_count, row.rating_mean


def rated_once(engine: Engine, *, started: bool = True) -> tuple[User, Content, Job]:
    """(a second viewer, a title rated once, its drain job: started, as a worker would)."""
    with Session(engine, expire_on_commit=False) as session:
        first_user, second_user = make_user(session), make_user(session)
        item = make_content(session)
        session.commit()
        job = ratings.rate(session=session, user_id=first_user.id, content_id=item.id, score=1).job
        session.commit()
        if started:
            jobs.start(session=session, job_id=job.id)
            session.commit()
    return second_user, item, job


def test_a_rating_landing_while_the_drain_runs_queues_the_next(engine: Engine) -> None:
    second_user, item, job = rated_once(engine)

    drain_tx = Session(engine, expire_on_commit=False)
    assert stats_backlog.drain(session=drain_tx, prior_mean=None) == [item.id]  # mark taken
    outcome: dict[str, object] = {}

    def rating() -> None:
        with Session(engine, expire_on_commit=False) as session:
            outcome["pid"] = session.scalar(text("SELECT pg_backend_pid()"))
            # Its mark collides with the one the drain deleted: it waits for that commit.
            outcome["job"] = ratings.rate(
                session=session, user_id=second_user.id, content_id=item.id, score=5
            ).job.id
            session.commit()

    thread = threading.Thread(target=rating)
    thread.start()
    wait_for_lock_wait(engine, outcome, what="the rating to wait for the drain")
    drain_tx.commit()
    thread.join(timeout=10)
    with Session(engine) as session:
        assert stats_of(session, item.id) == (1, 1.0)  # the drain did not see it
        assert outcome["job"] != job.id  # the running drain is not joined: a new one
        queued = session.get_one(Job, outcome["job"])
        assert (queued.status, queued.dedup_key) == ("queued", "stats:pending")
        assert session.scalars(select(StatsPending.content_id)).all() == [item.id]
        assert stats_backlog.drain(session=session, prior_mean=None) == [item.id]
        session.commit()
        assert stats_of(session, item.id) == (2, 3.0)


def test_a_drain_leaves_the_mark_of_a_rating_still_in_flight(engine: Engine) -> None:
    second_user, item, _job = rated_once(engine)

    rating_tx = Session(engine, expire_on_commit=False)
    ratings.rate(session=rating_tx, user_id=second_user.id, content_id=item.id, score=5)
    with Session(engine) as drain_tx:  # the rating holds the mark: skipped, not waited for
        assert stats_backlog.drain(session=drain_tx, prior_mean=None) == []
        drain_tx.commit()
    rating_tx.commit()
    rating_tx.close()
    with Session(engine) as session:
        assert stats_backlog.drain(session=session, prior_mean=None) == [item.id]
        session.commit()
        assert stats_of(session, item.id) == (2, 3.0)
