"""A rating that joins a queued recompute is never missed by it (two real connections)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.migrate import upgrade
from db.services import jobs, ratings
from tests import services
from tests.factories import make_content, make_user
from tests.services import wait_for_lock_wait


@pytest.fixture
def engine() -> Iterator[Engine]:
    url = services.create_database("cbrtl_race")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    services.drop_database(url)


def test_worker_waits_for_the_rating_that_joined_its_job(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        first_user, second_user = make_user(session), make_user(session)
        item = make_content(session)
        session.commit()
        job = ratings.rate(session=session, user_id=first_user.id, content_id=item.id, score=1).job
        session.commit()

    rating_tx = Session(engine, expire_on_commit=False)
    joined = ratings.rate(session=rating_tx, user_id=second_user.id, content_id=item.id, score=5)
    assert joined.job.id == job.id  # coalesced into the queued job, not yet committed

    outcome: dict[str, object] = {}

    def worker() -> None:
        with Session(engine) as session:
            outcome["pid"] = session.scalar(text("SELECT pg_backend_pid()"))
            jobs.start(session=session, job_id=job.id)  # must wait for the rating's commit
            session.commit()
            outcome["stats"] = ratings.recompute_stats(session=session, content_id=item.id)
            session.commit()

    thread = threading.Thread(target=worker)
    thread.start()
    wait_for_lock_wait(engine, outcome, what="the worker to wait for the lock")
    rating_tx.commit()
    rating_tx.close()
    thread.join(timeout=10)
    assert outcome["stats"] == {"content_id": item.id, "count": 2, "mean": 3.0}
