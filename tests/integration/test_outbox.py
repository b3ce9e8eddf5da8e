"""The outbox: published after commit, never after rollback, relayed after a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kombu import Connection
from sqlalchemy import update
from sqlalchemy.orm import Session

from db import outbox
from db.broker import CeleryPublisher
from db.engine import make_session_factory
from db.models import Job
from db.models.base import utcnow
from db.services import jobs
from db.settings import Settings
from tests.services import drain_job_ids, free_port


def test_commit_publishes_the_job(ratings_queue: Connection, db_session: Session) -> None:
    job = jobs.enqueue(session=db_session, type="ratings.recompute_stats", args={"content_id": 1})
    assert drain_job_ids(ratings_queue) == []  # nothing before the commit
    db_session.commit()
    assert drain_job_ids(ratings_queue) == [job.id]
    db_session.refresh(job)
    assert job.published_at is not None


def test_rollback_publishes_nothing(ratings_queue: Connection, db_session: Session) -> None:
    jobs.enqueue(session=db_session, type="ratings.recompute_stats", args={"content_id": 1})
    db_session.rollback()
    db_session.commit()
    assert drain_job_ids(ratings_queue) == []


def test_broker_down_leaves_the_row_for_the_relay(
    ratings_queue: Connection, connection, settings: Settings, publisher: CeleryPublisher
) -> None:
    dead_broker = CeleryPublisher(
        settings.model_copy(update={"broker_url": f"amqp://guest:guest@127.0.0.1:{free_port()}//"})
    )
    factory = make_session_factory(
        connection, publisher=dead_broker, join_transaction_mode="create_savepoint"
    )
    with factory() as session:
        job = jobs.enqueue(session=session, type="ratings.recompute_stats", args={"content_id": 7})
        session.commit()  # the commit stands although publishing failed
        session.refresh(job)
        assert job.published_at is None

        # Too young for the relay: the after-commit publish may still be under way.
        assert outbox.relay(session=session, publisher=publisher, grace_s=60) == 0
        session.execute(
            update(Job).where(Job.id == job.id).values(created_at=utcnow() - timedelta(minutes=2))
        )
        assert outbox.relay(session=session, publisher=publisher, grace_s=60) == 1
        session.commit()
        session.refresh(job)
        assert job.published_at is not None
        assert outbox.relay(session=session, publisher=publisher, grace_s=60) == 0
    assert drain_job_ids(ratings_queue) == [job.id]


def test_savepoints_publish_nothing_until_the_real_commit(
    ratings_queue: Connection, db_session: Session
) -> None:
    with db_session.begin_nested():
        kept = jobs.enqueue(session=db_session, type="ratings.recompute_stats", args={"id": 1})
    with pytest.raises(RuntimeError), db_session.begin_nested():
        jobs.enqueue(session=db_session, type="ratings.recompute_stats", args={"id": 2})
        raise RuntimeError("roll this savepoint back")
    assert drain_job_ids(ratings_queue) == []  # released savepoints are not commits
    db_session.commit()
    assert drain_job_ids(ratings_queue) == [kept.id]
