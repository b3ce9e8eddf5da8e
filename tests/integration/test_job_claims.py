"""A claim knows whether its claimant is alive, on every broker: a delivery for a
running job whose claimant is gone takes over at once; a live one keeps its job; the
claim is a compare-and-set, so two claimants never both run a job, even on SQLite."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db import claimants
from db.models import Job
from db.models.base import utcnow
from db.services import jobs
from tasks.heartbeat import Heartbeat
from tests.integration.task_env import (  # noqa: F401 - fixtures
    TaskEnv,
    before_first,
    scratch_engine,
    tasks_on,
)
from tests.services import wait_for

HOST = claimants.this_process().rpartition(":")[0]


def new_job(session: Session) -> Job:
    return jobs.enqueue(session=session, type="ratings.recompute_stats", args={"content_id": 1})


def dead_pid() -> int:
    """The pid of a process on this host that has exited (and been reaped)."""
    done = subprocess.Popen(["true"])
    done.wait(timeout=10)
    return done.pid


def test_a_delivery_whose_claimant_died_on_this_host_takes_over(db_session: Session) -> None:
    job = new_job(db_session)
    gone = f"{HOST}:{dead_pid()}"
    assert jobs.start(session=db_session, job_id=job.id, claimant=gone) is job
    # No redelivered flag (the embedded broker sets none): the dead pid is enough.
    assert jobs.start(session=db_session, job_id=job.id) is job
    assert (job.status, job.attempts, job.claimed_by) == ("running", 2, claimants.this_process())


def test_a_live_claimant_keeps_its_job(db_session: Session) -> None:
    here = new_job(db_session)
    assert jobs.start(session=db_session, job_id=here.id) is here  # this process: alive
    assert jobs.start(session=db_session, job_id=here.id, claimant="other:1") is None
    elsewhere = new_job(db_session)
    assert jobs.start(session=db_session, job_id=elsewhere.id, claimant="far-away:1") is elsewhere
    assert jobs.start(session=db_session, job_id=elsewhere.id) is None  # beating recently
    assert (elsewhere.attempts, elsewhere.claimed_by) == (1, "far-away:1")


def test_a_claimant_elsewhere_that_fell_silent_loses_its_job(db_session: Session) -> None:
    job = new_job(db_session)
    jobs.start(session=db_session, job_id=job.id, claimant="far-away:1")
    soon = utcnow() + timedelta(seconds=claimants.SILENT_S - 5)
    assert jobs.start(session=db_session, job_id=job.id, now=soon) is None
    silent = utcnow() + timedelta(seconds=claimants.SILENT_S + 1)
    assert jobs.start(session=db_session, job_id=job.id, now=silent) is job
    assert job.attempts == 2


def test_a_run_that_was_taken_over_records_nothing(db_session: Session) -> None:
    job = new_job(db_session)
    jobs.start(session=db_session, job_id=job.id, claimant=f"{HOST}:{dead_pid()}")
    old = jobs.Claim.of(job)
    jobs.start(session=db_session, job_id=job.id)
    new = jobs.Claim.of(job)
    with pytest.raises(jobs.JobCancelled):
        jobs.set_progress(session=db_session, job_id=job.id, value=0.5, claim=old)
    assert (
        jobs.fail(session=db_session, job_id=job.id, error="x", retryable=True, claim=old) is None
    )
    assert jobs.succeed(session=db_session, claim=old, result={"by": "old"}) is False
    assert job.status == "running"
    assert jobs.succeed(session=db_session, claim=new, result={"by": "new"}) is True
    assert (job.status, job.result, job.attempts) == ("succeeded", {"by": "new"}, 2)


def test_the_heartbeat_beats_until_the_attempt_is_no_longer_its_own(
    tasks_on: TaskEnv,  # noqa: F811 - the fixture
) -> None:
    with tasks_on.factory() as session:
        job = new_job(session)
        session.commit()
        started = jobs.start(session=session, job_id=job.id)
        session.commit()
        assert started is not None
        claim, first = jobs.Claim.of(started), started.heartbeat_at

    def heartbeat_at() -> Any:
        with tasks_on.factory() as session:
            return session.get(Job, claim.job_id).heartbeat_at

    beat = Heartbeat(claim, interval_s=0.05)
    beat.start()
    try:
        wait_for(lambda: heartbeat_at() > first, timeout=10, what="a heartbeat")
        with tasks_on.factory() as session:
            jobs.cancel(session=session, job_id=claim.job_id)
            session.commit()
        beat.join(timeout=10)
        assert not beat.is_alive()  # it noticed: the attempt is not its own any more
    finally:
        beat.stop()


def test_two_claimants_never_both_run_a_job_on_sqlite(sqlite_engine: Engine) -> None:
    """SQLite ignores FOR UPDATE. Claimant A reads the queued job; before its write,
    claimant B claims and commits; A's write must then find the job taken."""
    with Session(sqlite_engine) as session:
        job_id = new_job(session).id
        session.commit()
    claims: dict[str, Job | None] = {}

    def claim(name: str) -> None:
        with Session(sqlite_engine, expire_on_commit=False) as session:
            claims[name] = jobs.start(session=session, job_id=job_id)
            session.commit()

    interleaved = before_first(sqlite_engine, "UPDATE jobs", lambda: claim("B"))
    claim("A")
    assert interleaved
    winners = [name for name, job in claims.items() if job is not None]
    assert winners == ["B"]
    with Session(sqlite_engine) as session:
        row = session.get(Job, job_id)
        assert row is not None
        assert (row.status, row.attempts) == ("running", 1)
