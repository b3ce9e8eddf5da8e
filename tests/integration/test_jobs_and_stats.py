"""The job state machine and the stats recompute, on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import ContentStats, Rating
from db.services import jobs, ratings
from tests.factories import make_content, make_user


def new_job(session: Session, max_attempts: int = 3):
    return jobs.enqueue(
        session=session,
        type="ratings.recompute_stats",
        args={"content_id": 1},
        max_attempts=max_attempts,
    )


def test_job_moves_queued_running_succeeded(db_session: Session) -> None:
    job = new_job(db_session)
    assert job.status == "queued" and job.queue == "ratings"
    started = jobs.start(session=db_session, job_id=job.id)
    assert started is not None and started.status == "running" and started.attempts == 1
    assert started.started_at is not None
    jobs.succeed(session=db_session, claim=jobs.Claim.of(started), result={"ok": True})
    assert (job.status, job.progress, job.result) == ("succeeded", 1.0, {"ok": True})
    assert job.finished_at is not None and job.finished_at >= job.started_at
    # A redelivered message finds it finished and does nothing.
    assert jobs.start(session=db_session, job_id=job.id) is None
    assert job.attempts == 1


def test_transient_failures_retry_then_die(db_session: Session) -> None:
    job = new_job(db_session, max_attempts=2)
    jobs.start(session=db_session, job_id=job.id)
    assert jobs.fail(session=db_session, job_id=job.id, error="db away", retryable=True) is job
    assert job.status == "queued" and job.error == "db away"
    jobs.start(session=db_session, job_id=job.id)
    assert jobs.fail(session=db_session, job_id=job.id, error="db away", retryable=True) is None
    assert job.status == "dead" and job.attempts == 2 and job.finished_at is not None


def test_permanent_failure_is_failed_at_once(db_session: Session) -> None:
    job = new_job(db_session, max_attempts=5)
    jobs.start(session=db_session, job_id=job.id)
    assert jobs.fail(session=db_session, job_id=job.id, error="bad", retryable=False) is None
    assert job.status == "failed" and job.attempts == 1


def test_unknown_job_type_is_refused(db_session: Session) -> None:
    with pytest.raises(ValueError, match="unknown job type"):
        jobs.enqueue(session=db_session, type="nope", args={})


def test_recompute_equals_group_by_and_is_idempotent(db_session: Session) -> None:
    item = make_content(db_session)
    other = make_content(db_session)
    for score in (1.0, 4.0, 4.5):
        ratings.rate(
            session=db_session, user_id=make_user(db_session).id, content_id=item.id, score=score
        )
    ratings.rate(session=db_session, user_id=make_user(db_session).id, content_id=other.id, score=2)

    first = ratings.recompute_stats(session=db_session, content_id=item.id)
    second = ratings.recompute_stats(session=db_session, content_id=item.id)
    assert first == second == {"content_id": item.id, "count": 3, "mean": pytest.approx(9.5 / 3)}

    count, mean = db_session.execute(
        select(func.count(), func.avg(Rating.score)).where(Rating.content_id == item.id)
    ).one()
    stats = db_session.get(ContentStats, item.id)
    db_session.refresh(stats)
    assert (stats.rating_count, stats.rating_mean) == (count, pytest.approx(mean))
    # The Bayesian mean sits between the item's mean and the global mean.
    global_mean = (9.5 + 2) / 4
    assert min(mean, global_mean) < stats.rating_bayesian < max(mean, global_mean)


def test_recompute_after_last_rating_removed(db_session: Session) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    ratings.rate(session=db_session, user_id=user.id, content_id=item.id, score=3)
    ratings.recompute_stats(session=db_session, content_id=item.id)
    assert ratings.unrate(session=db_session, user_id=user.id, content_id=item.id) is not None
    result = ratings.recompute_stats(session=db_session, content_id=item.id)
    assert result == {"content_id": item.id, "count": 0, "mean": None}
    assert ratings.unrate(session=db_session, user_id=user.id, content_id=item.id) is None


def test_recompute_of_deleted_content_is_a_no_op(db_session: Session) -> None:
    assert ratings.recompute_stats(session=db_session, content_id=987654)["deleted"] is True


def test_coalesced_jobs_open_a_new_one_once_the_queued_one_started(db_session: Session) -> None:
    def recompute(content_id: int):
        return jobs.enqueue(
            session=db_session,
            type="ratings.recompute_stats",
            args={"content_id": content_id},
            dedup_key=f"stats:{content_id}",
        )

    first = recompute(1)
    assert recompute(1) is first
    assert recompute(2) is not first  # another key, another job
    jobs.start(session=db_session, job_id=first.id)
    # The running job may already have read the ratings: a new change needs a new job.
    second = recompute(1)
    assert second.id != first.id and second.status == "queued"
    assert recompute(1) is second


def test_a_retried_job_leaves_its_dedup_key_to_newer_jobs(db_session: Session) -> None:
    def recompute():
        return jobs.enqueue(
            session=db_session,
            type="ratings.recompute_stats",
            args={"content_id": 5},
            dedup_key="stats:5",
        )

    first = recompute()
    jobs.start(session=db_session, job_id=first.id)
    second = recompute()  # queued while the first runs
    assert jobs.fail(session=db_session, job_id=first.id, error="db away", retryable=True) is first
    db_session.flush()  # no unique violation: the retry gave up its key
    assert (first.status, first.dedup_key) == ("queued", None)
    assert recompute() is second
