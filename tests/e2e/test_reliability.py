"""Nothing is lost: a worker SIGKILLed mid-job, and a job whose publish never happened."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import Job
from db.models.base import utcnow
from db.services import jobs
from tests.e2e.processes import Api, Platform
from tests.factories import PASSWORD, make_content, make_user
from tests.services import wait_for


def job_state(session: Session, job_id: int) -> tuple[str, int]:
    session.expire_all()
    job = session.get(Job, job_id)
    assert job is not None
    return job.status, job.attempts


@pytest.fixture
def engine(on_services: Platform) -> Iterator[Engine]:
    engine = make_engine(on_services.env["CBRTL_DATABASE_URL"])
    yield engine
    engine.dispose()


def test_worker_sigkilled_mid_job_loses_nothing(on_services: Platform, engine: Engine) -> None:
    with Session(engine) as session:
        user = make_user(session)
        item = make_content(session)
        session.commit()
        user_email, content_id = user.email, item.id

    on_services.start_web()
    worker = on_services.start_worker()
    api = Api(on_services.base_url)
    token = api.token(user_email, PASSWORD)

    # Hold the content row: the recompute blocks inside its transaction, mid-job.
    blocker = engine.connect()
    blocker.begin()
    blocker.execute(
        text("SELECT id FROM content WHERE id = :id FOR NO KEY UPDATE"), {"id": content_id}
    )

    rated = api.call("PUT", f"/content/{content_id}/rating", token, json={"score": 4.5})
    assert rated.status_code == 200
    with Session(engine) as session:
        job_id = session.scalar(select(Job.id).order_by(Job.id.desc()).limit(1))
        assert job_id is not None
        wait_for(
            lambda: job_state(session, job_id) == ("running", 1),
            timeout=30,
            what="the job to be running",
        )

        worker.kill(signal.SIGKILL)
        blocker.rollback()
        blocker.close()
        assert job_state(session, job_id) == ("running", 1)

        on_services.start_worker()
        wait_for(
            lambda: job_state(session, job_id) == ("succeeded", 2),
            timeout=60,
            what="the redelivered job to succeed",
        )

    rating = api.call("GET", f"/content/{content_id}").json()["rating"]
    assert (rating["count"], rating["average"]) == (1, 4.5)


def test_beat_relays_a_job_that_was_never_published(on_services: Platform, engine: Engine) -> None:
    with Session(engine) as session:
        owner = make_user(session)
        item = make_content(session, owner=owner)
        session.execute(
            text(
                "INSERT INTO ratings (user_id, content_id, score, rated_at) "
                "VALUES (:u, :c, 3.5, now())"
            ),
            {"u": owner.id, "c": item.id},
        )
        # As if the web crashed between commit and publish: a row nobody sent.
        job = jobs.enqueue(
            session=session, type="ratings.recompute_stats", args={"content_id": item.id}
        )
        job.created_at = utcnow() - timedelta(minutes=5)
        session.commit()
        job_id, content_id = job.id, item.id

        on_services.start_worker()
        on_services.start_beat()
        wait_for(
            lambda: job_state(session, job_id)[0] == "succeeded",
            timeout=60,
            what="the relayed job to succeed",
        )
        session.expire_all()
        assert session.get(Job, job_id).published_at is not None

    on_services.start_web()
    rating = Api(on_services.base_url).call("GET", f"/content/{content_id}").json()["rating"]
    assert (rating["count"], rating["average"]) == (1, 3.5)
