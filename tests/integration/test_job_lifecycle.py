"""Job delivery rules on PostgreSQL: duplicates, poison messages, backoff through the
outbox, cancel, silent heartbeats, request ids, and the database being down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from kombu import Connection
from sqlalchemy import update
from sqlalchemy.orm import Session

from db import claimants, outbox
from db.broker import CeleryPublisher
from db.models import Job
from db.models.base import utcnow
from db.request_context import bound_request_id
from db.services import jobs
from db.settings import Settings
from tests.auth import login
from tests.factories import make_user
from tests.services import drain_job_ids, free_port
from web.app import build_runtime, create_app


def new_job(session: Session, max_attempts: int = 3) -> Job:
    return jobs.enqueue(
        session=session,
        type="ratings.recompute_stats",
        args={"content_id": 1},
        max_attempts=max_attempts,
    )


def test_a_second_message_for_a_running_job_is_dropped(db_session: Session) -> None:
    job = new_job(db_session)
    assert jobs.start(session=db_session, job_id=job.id) is job
    # The relay or a lost ack sent it again while it runs: not run twice.
    assert jobs.start(session=db_session, job_id=job.id) is None
    assert (job.status, job.attempts) == ("running", 1)
    # RabbitMQ redelivers only once the worker that had it is gone: that one runs.
    assert jobs.start(session=db_session, job_id=job.id, redelivered=True) is job
    assert job.attempts == 2


def test_a_job_whose_worker_keeps_dying_ends_dead(db_session: Session) -> None:
    job = new_job(db_session, max_attempts=2)
    for _ in range(2):
        assert jobs.start(session=db_session, job_id=job.id, redelivered=True) is job
    assert jobs.start(session=db_session, job_id=job.id, redelivered=True) is None
    assert job.status == "dead" and job.attempts == 2
    assert job.error is not None and job.error.startswith("Gave up after 2 attempts")


def test_a_transient_failure_waits_in_the_outbox_for_its_backoff(
    ratings_queue: Connection,
    db_session: Session,
    publisher: CeleryPublisher,
) -> None:
    job = new_job(db_session)
    db_session.commit()
    assert drain_job_ids(ratings_queue) == [job.id]
    jobs.start(session=db_session, job_id=job.id)
    assert jobs.fail(session=db_session, job_id=job.id, error="db away", retryable=True) is job
    assert job.status == "queued" and job.published_at is None
    assert job.not_before is not None and job.not_before > utcnow() - timedelta(seconds=1)
    db_session.execute(
        update(Job).where(Job.id == job.id).values(not_before=utcnow() + timedelta(minutes=1))
    )
    assert outbox.relay(session=db_session, publisher=publisher, grace_s=0) == 0  # not yet
    db_session.execute(update(Job).where(Job.id == job.id).values(not_before=utcnow()))
    assert outbox.relay(session=db_session, publisher=publisher, grace_s=3600) == 1
    db_session.commit()
    assert drain_job_ids(ratings_queue) == [job.id]
    again = jobs.start(session=db_session, job_id=job.id)
    assert again is job and job.attempts == 2 and job.not_before is None


def test_cancel_a_queued_and_a_running_job(db_session: Session) -> None:
    queued = new_job(db_session)
    assert jobs.cancel(session=db_session, job_id=queued.id).status == "failed"
    assert queued.error == jobs.CANCELLED
    assert jobs.start(session=db_session, job_id=queued.id) is None  # its message does nothing

    running = new_job(db_session)
    jobs.start(session=db_session, job_id=running.id)
    jobs.cancel(session=db_session, job_id=running.id)
    with pytest.raises(jobs.JobCancelled):
        jobs.set_progress(session=db_session, job_id=running.id, value=0.5)
    assert jobs.succeed(session=db_session, claim=jobs.Claim.of(running), result={}) is False
    assert jobs.fail(session=db_session, job_id=running.id, error="x", retryable=True) is None
    assert (running.status, running.error) == ("failed", jobs.CANCELLED)

    with pytest.raises(jobs.Conflict):
        jobs.cancel(session=db_session, job_id=running.id)  # finished already


def test_cancel_over_http_needs_ops(client: FlaskClient, db_session: Session) -> None:
    job = new_job(db_session)
    ops, viewer = make_user(db_session, roles=("ops",)), make_user(db_session)
    db_session.commit()
    path = f"/api/v1/jobs/{job.id}/cancel"
    assert client.post(path, headers=login(client, viewer.email)).status_code == 403
    done = client.post(path, headers=login(client, ops.email))
    assert done.status_code == 202 and done.json["job"]["status"] == "failed"
    again = client.post(path, headers=login(client, ops.email))
    assert again.status_code == 409 and again.json["error"]["details"] == {"status": "failed"}


def test_running_with_a_silent_heartbeat_goes_back_to_the_queue(db_session: Session) -> None:
    job = new_job(db_session)
    jobs.start(session=db_session, job_id=job.id)
    assert jobs.stale_running(session=db_session, now=utcnow()) == []
    # Long past the start, but beating: a long transcode keeps its job.
    later = utcnow() + timedelta(hours=1)
    db_session.execute(update(Job).where(Job.id == job.id).values(heartbeat_at=later))
    db_session.refresh(job)
    assert jobs.stale_running(session=db_session, now=later + timedelta(seconds=29)) == []
    silent = later + timedelta(seconds=claimants.SILENT_S + 1)
    assert jobs.stale_running(session=db_session, now=silent) == [job]
    assert (job.status, job.published_at) == ("queued", None)


def test_jobs_carry_the_request_id_that_caused_them(db_session: Session) -> None:
    with bound_request_id("req-123"):
        job = new_job(db_session)
    assert job.request_id == "req-123"
    assert new_job(db_session).request_id is None


def test_database_down_is_503_with_retry_after(settings: Settings, publisher: Any) -> None:
    down = settings.model_copy(
        update={"database_url": f"postgresql+psycopg2://nobody@127.0.0.1:{free_port()}/none"}
    )
    app: Flask = create_app(runtime=build_runtime(down, publisher=publisher))
    answer = app.test_client().get("/api/v1/content")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.json["error"]["code"] == "unavailable"
