"""The web's background publisher: a commit does not wait for the broker, a batch is
marked published in one UPDATE, and whatever it cannot send waits for the relay."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from db import outbox
from db.broker import CeleryPublisher
from db.engine import make_engine, make_session_factory
from db.job_types import job_type
from db.migrate import upgrade
from db.models import Job
from db.outbox import BackgroundPublisher
from db.services import jobs
from db.settings import Settings
from tests import services
from tests.factories import PASSWORD, make_content, make_user
from tests.services import drain_job_ids, wait_for
from web.app import create_app


@pytest.fixture
def database() -> Iterator[str]:
    """A database of the test's own: the publisher's thread reads committed rows."""
    url = services.create_database("cbrtl_outbox")
    upgrade(url)
    yield url
    services.drop_database(url)


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    engine = make_engine(database)
    yield engine
    engine.dispose()


STATS_TASK = job_type("ratings.recompute_stats").task


class Gated:
    """A publisher that waits for the test to open its gate, then publishes through
    `inner` (None: the broker is down)."""

    def __init__(self, inner: CeleryPublisher | None, *, open: bool = False) -> None:
        self.inner = inner
        self.gate, self.entered = threading.Event(), threading.Event()
        self.calls: list[int] = []
        if open:
            self.gate.set()

    def publish(self, *, job_id: int, task: str, queue: str) -> None:
        self.entered.set()
        assert self.gate.wait(timeout=30), "the test never opened the gate"
        self.calls.append(job_id)
        if self.inner is None:
            raise ConnectionError("broker down")
        self.inner.publish(job_id=job_id, task=task, queue=queue)


def commit_job(factory: Any, n: int) -> int:
    with factory() as session:
        job = jobs.enqueue(
            session=session,
            type="ratings.recompute_stats",
            args={"content_id": n},
            dedup_key=f"stats:{n}",
        )
        session.commit()
        return job.id


def unpublished(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(Job.id).where(Job.published_at.is_(None))))


def test_commit_does_not_wait_and_one_update_marks_a_batch(
    engine: Engine, publisher: CeleryPublisher, ratings_queue: Connection
) -> None:
    gated = Gated(publisher)
    background = BackgroundPublisher(lambda: gated, engine=engine)
    factory = make_session_factory(engine, publisher=background)
    marks: list[str] = []

    def count_marks(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE jobs SET published_at"):
            marks.append(statement)

    event.listen(engine, "before_cursor_execute", count_marks)
    ids = [commit_job(factory, n) for n in range(5)]  # each returns with the gate shut
    assert sorted(unpublished(engine)) == sorted(ids)

    gated.gate.set()
    assert background.flush(timeout=30)
    assert unpublished(engine) == []
    assert sorted(drain_job_ids(ratings_queue)) == sorted(ids)
    # The first batch went out alone (the thread held it at the gate); the rest as one.
    assert 1 <= len(marks) <= 2
    background.close()


def test_broker_down_leaves_the_rows_for_the_relay(
    engine: Engine, publisher: CeleryPublisher, ratings_queue: Connection
) -> None:
    down = Gated(None, open=True)
    background = BackgroundPublisher(lambda: down, engine=engine)
    factory = make_session_factory(engine, publisher=background)
    with factory() as session:
        first, second = (
            jobs.enqueue(session=session, type="ratings.recompute_stats", args={"n": n})
            for n in (1, 2)
        )
        session.commit()
    assert background.flush(timeout=30)
    assert down.calls == [first.id]  # gave up after the first failure: the broker is down
    assert sorted(unpublished(engine)) == sorted([first.id, second.id])

    with Session(engine) as session:
        assert outbox.relay(session=session, publisher=publisher, grace_s=0) == 2
        session.commit()
    assert unpublished(engine) == []
    assert sorted(drain_job_ids(ratings_queue)) == sorted([first.id, second.id])
    background.close()


def test_a_full_hand_over_queue_leaves_jobs_for_the_relay(
    engine: Engine,
    publisher: CeleryPublisher,
    ratings_queue: Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gated = Gated(publisher)
    background = BackgroundPublisher(lambda: gated, engine=engine, max_pending=1, linger_s=0)
    factory = make_session_factory(engine, publisher=background)
    held = commit_job(factory, 1)
    assert gated.entered.wait(timeout=30)  # the thread holds the first at the gate
    queued = commit_job(factory, 2)  # fills the queue
    with caplog.at_level(logging.WARNING, logger="db.outbox"):
        overflow = commit_job(factory, 3)
    assert "hand-over queue full" in caplog.text

    gated.gate.set()
    assert background.flush(timeout=30)
    assert unpublished(engine) == [overflow]
    assert sorted(drain_job_ids(ratings_queue)) == sorted([held, queued])
    background.close()


def dies_first(publisher: CeleryPublisher) -> Callable[[], CeleryPublisher]:
    """A publisher factory whose first call ends the thread that calls it."""
    made: list[int] = []

    def make() -> CeleryPublisher:
        made.append(1)
        if len(made) == 1:
            raise SystemExit("the thread dies")  # not an Exception: it ends the thread
        return publisher

    return make


class LingeringDeath(BackgroundPublisher):
    """Its thread, when a SystemExit ends it, waits at `gate` after settling its
    batch: the moment a flush has returned but the thread is not yet gone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.dying, self.gate = threading.Event(), threading.Event()
        super().__init__(*args, **kwargs)

    def _settle(self, count: int) -> None:
        super()._settle(count)
        if sys.exc_info()[0] is SystemExit:
            self.dying.set()
            self.gate.wait(timeout=30)


# The thread dies on purpose; pytest reports any exception that ends a thread.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("lingers", [False, True], ids=["gone", "dying"])
def test_a_dead_thread_is_replaced_and_its_jobs_wait_for_the_relay(
    engine: Engine, publisher: CeleryPublisher, ratings_queue: Connection, lingers: bool
) -> None:
    background = LingeringDeath(dies_first(publisher), engine=engine)
    if not lingers:
        background.gate.set()
    factory = make_session_factory(engine, publisher=background)
    lost = commit_job(factory, 1)
    assert background.dying.wait(timeout=30)
    assert background.flush(timeout=30)  # settled; the thread may still be ending
    sent = commit_job(factory, 2)  # to a new thread, or to the dying one's successor
    background.gate.set()
    assert background.flush(timeout=30)
    assert unpublished(engine) == [lost]
    assert drain_job_ids(ratings_queue) == [sent]
    background.close()


def test_database_away_at_the_mark_leaves_the_jobs_for_the_relay(
    publisher: CeleryPublisher, ratings_queue: Connection, caplog: pytest.LogCaptureFixture
) -> None:
    away = make_engine(f"postgresql+psycopg2://nobody@127.0.0.1:{services.free_port()}/none")
    background = BackgroundPublisher(lambda: publisher, engine=away)
    with caplog.at_level(logging.ERROR, logger="db.outbox"):
        background.submit([outbox.Outgoing(job_id=41, task=STATS_TASK, queue="ratings")])
        assert background.flush(timeout=30)
    assert "the relay will send them" in caplog.text  # published, not marked: sent again
    background.submit([outbox.Outgoing(job_id=42, task=STATS_TASK, queue="ratings")])
    assert background.flush(timeout=30)  # the thread lives on
    assert drain_job_ids(ratings_queue) == [41, 42]
    background.close()
    away.dispose()


def test_a_forked_child_publishes_through_its_own_thread_and_connection(
    engine: Engine, settings: Settings, ratings_queue: Connection
) -> None:
    background = BackgroundPublisher(lambda: CeleryPublisher(settings), engine=engine)
    factory = make_session_factory(engine, publisher=background)
    in_parent = commit_job(factory, 1)  # the parent's thread and broker connection exist
    assert background.flush(timeout=30)

    pid = os.fork()
    if pid == 0:  # the child, as a gunicorn worker forked from a master that published
        code = 1
        try:
            engine.dispose(close=False)  # never share the parent's sockets
            commit_job(factory, 2)
            code = 0 if background.flush(timeout=30) and not unpublished(engine) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert unpublished(engine) == []
    in_child = [job for job in drain_job_ids(ratings_queue) if job != in_parent]
    assert len(in_child) == 1
    background.close()


def test_close_sends_what_was_handed_over(
    engine: Engine, publisher: CeleryPublisher, ratings_queue: Connection
) -> None:
    background = BackgroundPublisher(lambda: publisher, engine=engine)
    factory = make_session_factory(engine, publisher=background)
    ids = [commit_job(factory, n) for n in range(3)]
    background.close(timeout=30)  # what atexit does
    assert unpublished(engine) == []
    assert sorted(drain_job_ids(ratings_queue)) == sorted(ids)


def test_a_retry_queued_before_the_mark_is_left_for_the_relay(
    engine: Engine, publisher: CeleryPublisher, ratings_queue: Connection
) -> None:
    gated = Gated(publisher)
    background = BackgroundPublisher(lambda: gated, engine=engine)
    job_id = commit_job(make_session_factory(engine, publisher=background), 1)
    assert gated.entered.wait(timeout=30)
    # A worker that got the message runs the job and queues a retry before the mark.
    with Session(engine) as session:
        jobs.start(session=session, job_id=job_id)
        jobs.fail(session=session, job_id=job_id, error="db away", retryable=True)
        session.commit()
    gated.gate.set()
    assert background.flush(timeout=30)
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None and (job.status, job.published_at) == ("queued", None)
    assert drain_job_ids(ratings_queue) == [job_id]
    background.close()


def test_the_web_publishes_a_rating_job_in_the_background(
    database: str, settings: Settings, ratings_queue: Connection
) -> None:
    app = create_app(settings.model_copy(update={"database_url": database}))
    factory = app.extensions["cbrtl"].session_factory
    with factory() as session:
        user, item = make_user(session), make_content(session)
        session.commit()
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json['access_token']}"}
    response = client.put(f"/api/v1/content/{item.id}/rating", json={"score": 4}, headers=headers)
    assert response.status_code == 200
    assert outbox.flush(timeout=30)
    with factory() as session:
        job = session.scalars(select(Job).where(Job.type == "ratings.recompute_stats")).one()
        assert job.published_at is not None
        assert session.scalar(select(func.count()).select_from(Job)) == 1  # no model live
    assert wait_for(lambda: drain_job_ids(ratings_queue) == [job.id], what="the message")
    factory.kw["bind"].dispose()
