"""Job rows: enqueue (the outbox write) and the worker-side state machine.

queued -> running -> succeeded | failed (permanent error) | queued again (transient
error, retry pending) -> ... -> dead (attempts exhausted). Callers commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.errors import Conflict, NotFound
from db.job_types import job_type
from db.models import Job
from db.models.base import utcnow
from db.outbox import publish_after_commit

FINISHED = frozenset({"succeeded", "failed", "dead"})


def enqueue(
    *,
    session: Session,
    type: str,
    args: dict[str, Any],
    max_attempts: int = 5,
    dedup_key: str | None = None,
) -> Job:
    """Write the job row (the outbox publishes it after commit).

    With a `dedup_key`, a job with that key still `queued` absorbs this one: the
    burst of ratings on a popular item becomes one recompute, not thousands. The
    queued row is share-locked until this transaction commits, so the worker
    cannot start it (and read the ratings) before this change is visible.
    """
    kind = job_type(type)
    if dedup_key is None:
        return _add(
            session, Job(type=kind.name, queue=kind.queue, args=args, max_attempts=max_attempts)
        )
    for _ in range(5):
        pending = session.scalar(
            select(Job)
            .where(Job.dedup_key == dedup_key, Job.status == "queued")
            .with_for_update(read=True)
        )
        if pending is not None:
            return pending
        try:
            with session.begin_nested():
                return _add(
                    session,
                    Job(
                        type=kind.name,
                        queue=kind.queue,
                        args=args,
                        max_attempts=max_attempts,
                        dedup_key=dedup_key,
                    ),
                )
        except IntegrityError:
            continue  # another transaction queued it first: join that one
    raise RuntimeError(f"could not enqueue or join a job for {dedup_key!r}")


def _add(session: Session, job: Job) -> Job:
    session.add(job)
    session.flush()
    return job


def get_job(*, session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job {job_id}.")
    return job


def start(*, session: Session, job_id: int) -> Job | None:
    """Claim a delivery. None when the job is unknown or already finished (a redelivery)."""
    job = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None or job.status in FINISHED:
        return None
    job.status = "running"
    job.attempts += 1
    job.started_at = utcnow()
    job.finished_at = None
    return job


def succeed(*, session: Session, job: Job, result: dict[str, Any]) -> None:
    job.status = "succeeded"
    job.result = result
    job.progress = 1.0
    job.error = None
    job.finished_at = utcnow()


def fail(*, session: Session, job_id: int, error: str, retryable: bool) -> Job | None:
    """Record a failed attempt. Returns the job if it will be retried, else None."""
    job = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None:
        return None
    job.error = error[:2000]
    if retryable and job.attempts < job.max_attempts:
        # A retry stands alone: a newer queued job with the same key may exist.
        job.dedup_key = None
        job.status = "queued"
        return job
    job.status = "dead" if retryable else "failed"
    job.finished_at = utcnow()
    return None


def list_jobs(
    *,
    session: Session,
    page: int,
    per_page: int,
    type: str | None = None,
    status: str | None = None,
) -> tuple[list[Job], int]:
    stmt = select(Job)
    if type is not None:
        stmt = stmt.where(Job.type == type)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(
        stmt.order_by(Job.created_at.desc(), Job.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), int(total or 0)


def set_progress(*, session: Session, job_id: int, value: float) -> None:
    job = get_job(session=session, job_id=job_id)
    job.progress = min(1.0, max(0.0, value))


def retry(*, session: Session, job_id: int) -> Job:
    """An operator sends a failed or dead job round again, with fresh attempts."""
    job = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None:
        raise NotFound(f"No job {job_id}.")
    if job.status not in ("failed", "dead"):
        raise Conflict(
            f"Job {job_id} is {job.status}; only failed or dead jobs can be retried.",
            details={"status": job.status},
        )
    job.status = "queued"
    job.dedup_key = None
    job.attempts = 0
    job.progress = 0.0
    job.finished_at = None
    job.published_at = None
    publish_after_commit(session, job)
    return job
