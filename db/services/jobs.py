"""Job rows: enqueue (the outbox write) and the worker-side state machine.

queued -> running -> succeeded | failed (permanent error, or cancelled) | queued again
(transient error: the retry waits in the outbox until `not_before`, then the relay
publishes it) -> ... -> dead (attempts exhausted). Callers commit.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.errors import Conflict, NotFound
from db.job_types import job_type
from db.models import Job
from db.models.base import utcnow
from db.outbox import publish_after_commit
from db.request_context import current_request_id

FINISHED = frozenset({"succeeded", "failed", "dead"})
CANCELLED = "Cancelled by an operator."


class JobCancelled(Exception):
    """Raised into a running job's body when an operator cancelled it."""


def backoff_s(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter (attempt 1, 2, ... -> up to 2, 4, ... s)."""
    return random.uniform(0, min(cap, base * 2**attempt))


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
            session,
            Job(
                type=kind.name,
                queue=kind.queue,
                args=args,
                max_attempts=max_attempts,
                request_id=current_request_id(),
            ),
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
                        request_id=current_request_id(),
                    ),
                )
        except IntegrityError:
            continue  # another transaction queued it first: join that one
    raise RuntimeError(f"could not enqueue or join a job for {dedup_key!r}")


def _add(session: Session, job: Job) -> Job:
    session.add(job)
    session.flush()
    return job


def locked(*, session: Session, job_id: int) -> Job | None:
    """The job row, locked until the caller's transaction ends (None when unknown)."""
    return session.scalar(select(Job).where(Job.id == job_id).with_for_update())


def _locked_or_404(session: Session, job_id: int) -> Job:
    job = locked(session=session, job_id=job_id)
    if job is None:
        raise NotFound(f"No job {job_id}.")
    return job


def get_job(*, session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job {job_id}.")
    return job


def start(*, session: Session, job_id: int, redelivered: bool = False) -> Job | None:
    """Claim a delivery; None when there is nothing to run.

    Nothing to run: the job is unknown or finished (a duplicate message), another
    worker is running it (a second message for a running job; a redelivery means its
    worker died, so that one is claimed), or every attempt is used up: a job whose
    worker keeps dying (a poison message) ends dead instead of looping.
    """
    job = locked(session=session, job_id=job_id)
    if job is None or job.status in FINISHED:
        return None
    if job.status == "running" and not redelivered:
        return None
    if job.attempts >= job.max_attempts:
        job.status, job.finished_at = "dead", utcnow()
        job.error = (
            f"Gave up after {job.attempts} attempts: the last one never finished "
            f"(its worker stopped). {job.error or ''}"
        ).strip()[:2000]
        return None
    job.status = "running"
    job.attempts += 1
    job.started_at = utcnow()
    job.finished_at = None
    job.not_before = None
    return job


def succeed(*, session: Session, job: Job, result: dict[str, Any]) -> bool:
    """Mark it done, unless an operator cancelled it meanwhile (False then)."""
    if job.status != "running":
        return False
    job.status = "succeeded"
    job.result = result
    job.progress = 1.0
    job.error = None
    job.finished_at = utcnow()
    return True


def fail(*, session: Session, job_id: int, error: str, retryable: bool) -> Job | None:
    """Record a failed attempt. Returns the job if it will be retried, else None."""
    job = locked(session=session, job_id=job_id)
    if job is None or job.status != "running":
        return None  # cancelled (or finished) meanwhile: the operator's word stands
    job.error = error[:2000]
    if retryable and job.attempts < job.max_attempts:
        # A retry stands alone: a newer queued job with the same key may exist.
        job.dedup_key = None
        job.status = "queued"
        job.published_at = None
        job.not_before = utcnow() + timedelta(seconds=backoff_s(job.attempts))
        return job
    job.status = "dead" if retryable else "failed"
    job.finished_at = utcnow()
    return None


def cancel(*, session: Session, job_id: int) -> Job:
    """Stop a queued or running job. A running body notices at its next progress report."""
    job = _locked_or_404(session, job_id)
    if job.status not in ("queued", "running"):
        raise Conflict(
            f"Job {job_id} is {job.status}; only queued or running jobs can be cancelled.",
            details={"status": job.status},
        )
    job.status, job.error, job.finished_at = "failed", CANCELLED, utcnow()
    job.dedup_key = None
    return job


def stale_running(*, session: Session, leases: dict[str, float], now: datetime) -> list[Job]:
    """Running jobs older than their type's lease: their worker is gone and no broker
    will redeliver (the embedded broker cannot). They go back to the queue."""
    conditions = [
        and_(Job.type == name, Job.started_at < now - timedelta(seconds=lease))
        for name, lease in leases.items()
    ]
    stale = session.scalars(
        select(Job)
        .where(Job.status == "running", or_(*conditions))
        .with_for_update(skip_locked=True)
    ).all()
    for job in stale:
        job.status, job.published_at, job.not_before = "queued", None, None
    return list(stale)


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
    """Store progress; raise JobCancelled when the job is no longer running."""
    job = get_job(session=session, job_id=job_id)
    if job.status != "running":
        raise JobCancelled(f"job {job_id} is {job.status}")
    job.progress = min(1.0, max(0.0, value))


def retry(*, session: Session, job_id: int) -> Job:
    """An operator sends a failed or dead job round again, with fresh attempts."""
    job = _locked_or_404(session, job_id)
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
    job.not_before = None
    publish_after_commit(session, job)
    return job
