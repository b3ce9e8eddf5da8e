"""Job rows: enqueue (the outbox write) and the worker-side state machine.

queued -> running -> succeeded | failed (permanent error, or cancelled) | queued again
(transient error: the retry waits in the outbox until `not_before`, then the relay
publishes it) -> ... -> dead (attempts exhausted). Each move is a compare-and-set on
the row (correct with or without row locks, which SQLite lacks). Callers commit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from db import claimants
from db.errors import Conflict, NotFound
from db.job_types import SHOWN_ON_TITLE, job_type
from db.models import Job
from db.models.base import utcnow
from db.outbox import publish_after_commit
from db.read_models.sync import mark_changed
from db.request_context import current_request_id
from db.services.job_rows import insert_or_join, insert_or_join_many, queued

FINISHED = frozenset({"succeeded", "failed", "dead"})
CANCELLED = "Cancelled by an operator."
MAX_ATTEMPTS = 5


class JobCancelled(Exception):
    """Raised into a running job's body when an operator cancelled it (or another
    claimant took it over)."""


@dataclass(frozen=True)
class Claim:
    """One attempt of a job by one process. Every later write of the run compares it, so
    a run that was cancelled or taken over records nothing."""

    job_id: int
    claimant: str
    attempt: int

    @classmethod
    def of(cls, job: Job) -> Claim:
        return cls(job_id=job.id, claimant=job.claimed_by or "", attempt=job.attempts)


def backoff_s(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter (attempt 1, 2, ... -> up to 2, 4, ... s)."""
    return random.uniform(0, min(cap, base * 2**attempt))


def enqueue(
    *,
    session: Session,
    type: str,
    args: dict[str, Any],
    max_attempts: int = MAX_ATTEMPTS,
    dedup_key: str | None = None,
) -> Job:
    """Write the job row (the outbox publishes it after commit).

    With a `dedup_key`, a job with that key still `queued` absorbs this one: the
    burst of ratings on a popular item becomes one recompute, not thousands. The
    queued row is share-locked until this transaction commits, so the worker
    cannot start it (and read the ratings) before this change is visible; a row
    this transaction inserts is invisible to the worker until then anyway.
    """
    values = _values(type, args, max_attempts)
    if dedup_key is None:
        return _add(session, Job(**values))
    values["dedup_key"] = dedup_key
    for _ in range(5):
        if session.in_nested_transaction():
            # An ORM add, whose rollback makes the Job transient: the outbox drops it.
            job = _add_in_savepoint(session, values) or queued(session=session, dedup_key=dedup_key)
        else:
            job = insert_or_join(session=session, values=values)  # usually one statement
        if job is not None:
            return job
        # The queued row started (or was cancelled) before this transaction saw it: again.
    raise RuntimeError(f"could not enqueue or join a job for {dedup_key!r}")


def enqueue_keyed(*, session: Session, jobs: list[tuple[str, dict[str, Any], str]]) -> list[Job]:
    """Several deduplicated jobs, (type, args, dedup key) each, as `enqueue` would write
    them: on PostgreSQL in one statement, then one by one for any that must try again."""
    if session.get_bind().dialect.name != "postgresql" or session.in_nested_transaction():
        return [enqueue(session=session, type=t, args=a, dedup_key=k) for t, a, k in jobs]
    values = [_values(t, a, MAX_ATTEMPTS) | {"dedup_key": k} for t, a, k in jobs]
    found = insert_or_join_many(session=session, values=values)
    return [job or enqueue(session=session, type=t, args=a, dedup_key=k)
            for job, (t, a, k) in zip(found, jobs, strict=True)]  # fmt: skip


def _values(type: str, args: dict[str, Any], max_attempts: int) -> dict[str, Any]:
    kind = job_type(type)
    return {"type": kind.name, "queue": kind.queue, "args": args,
            "max_attempts": max_attempts, "request_id": current_request_id()}  # fmt: skip


def _add_in_savepoint(session: Session, values: dict[str, Any]) -> Job | None:
    try:
        with session.begin_nested():
            return _add(session, Job(**values))
    except IntegrityError:
        return None  # another transaction queued it first: join that one


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


def start(
    *,
    session: Session,
    job_id: int,
    redelivered: bool = False,
    claimant: str | None = None,
    now: datetime | None = None,
) -> Job | None:
    """Claim a delivery for `claimant` (this process by default); None when there is
    nothing to run.

    Nothing to run: the job is unknown or finished (a duplicate message), its claimant
    is alive (a second message for a running job), or every attempt is used up: a job
    whose worker keeps dying (a poison message) ends dead instead of looping. A running
    job whose claimant is gone (db/claimants.py), or that RabbitMQ redelivered (its
    consumer is gone), is taken over. The claim is a compare-and-set on the row, so of
    two claimants one wins, with row locks or without (SQLite ignores FOR UPDATE).
    """
    now = now or utcnow()
    job = locked(session=session, job_id=job_id)
    if job is None or job.status in FINISHED:
        return None
    seen = _state(job)
    last_sign = job.heartbeat_at or job.started_at
    if (
        job.status == "running"
        and not redelivered
        and not claimants.is_gone(job.claimed_by, last_sign, now)
    ):
        return None
    if job.attempts >= job.max_attempts:
        error = (
            f"Gave up after {job.attempts} attempts: the last one never finished "
            f"(its worker stopped). {job.error or ''}"
        ).strip()[:2000]
        _compare_and_set(session, job, seen, status="dead", finished_at=now, error=error)
        return None
    won = _compare_and_set(
        session,
        job,
        seen,
        status="running",
        attempts=job.attempts + 1,
        claimed_by=claimant or claimants.this_process(),
        heartbeat_at=now,
        started_at=now,
        finished_at=None,
        not_before=None,
    )
    return job if won else None


def _state(job: Job) -> dict[str, Any]:
    return {"status": job.status, "attempts": job.attempts, "claimed_by": job.claimed_by}


def _compare_and_set(session: Session, job: Job, expected: dict[str, Any], **values: Any) -> bool:
    """Write `values` if the row still holds `expected`; False (and the object expired,
    to be read afresh) when another transaction changed it first."""
    stmt = (
        update(Job)
        .where(
            Job.id == job.id,
            *(getattr(Job, k).is_not_distinct_from(v) for k, v in expected.items()),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = session.execute(stmt)
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        session.expire(job)
        return False
    for name, value in values.items():
        set_committed_value(job, name, value)
    if "status" in values:
        _title_follows(session, job)
    return True


def _title_follows(session: Session, job: Job) -> None:
    """A transcode's state is its title's video status: the title's document follows."""
    if job.type in SHOWN_ON_TITLE and "content_id" in (job.args or {}):
        mark_changed(session, [int(job.args["content_id"])])


def _claim_matches(job: Job, claim: Claim) -> bool:
    return job.status == "running" and (job.claimed_by, job.attempts) == (
        claim.claimant,
        claim.attempt,
    )


def succeed(*, session: Session, claim: Claim, result: dict[str, Any]) -> bool:
    """Mark the claimed attempt done, unless an operator cancelled it or another
    claimant took the job over meanwhile (False then: nothing of this run may land)."""
    job = session.get(Job, claim.job_id)
    if job is None:
        return False
    return _compare_and_set(
        session,
        job,
        {"status": "running", "attempts": claim.attempt, "claimed_by": claim.claimant},
        status="succeeded",
        result=result,
        progress=1.0,
        error=None,
        finished_at=utcnow(),
    )


def fail(
    *, session: Session, job_id: int, error: str, retryable: bool, claim: Claim | None = None
) -> Job | None:
    """Record a failed attempt (the claimed one, when given). Returns the job if it will
    be retried, else None."""
    job = locked(session=session, job_id=job_id)
    if job is None or job.status != "running":
        return None  # cancelled (or finished) meanwhile: the operator's word stands
    if claim is not None and not _claim_matches(job, claim):
        return None  # taken over: that attempt is not ours to record
    seen, error = _state(job), error[:2000]
    if retryable and job.attempts < job.max_attempts:
        # A retry stands alone: a newer queued job with the same key may exist.
        retry_at = utcnow() + timedelta(seconds=backoff_s(job.attempts))
        won = _compare_and_set(
            session,
            job,
            seen,
            error=error,
            dedup_key=None,
            status="queued",
            published_at=None,
            not_before=retry_at,
        )
        return job if won else None
    status = "dead" if retryable else "failed"
    _compare_and_set(session, job, seen, error=error, status=status, finished_at=utcnow())
    return None


def beat(*, session: Session, claim: Claim, now: datetime) -> bool:
    """The claimant is alive; False once the attempt is no longer its own."""
    result = session.execute(
        update(Job)
        .where(
            Job.id == claim.job_id,
            Job.status == "running",
            Job.attempts == claim.attempt,
            Job.claimed_by == claim.claimant,
        )
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return isinstance(result, CursorResult) and result.rowcount == 1


def cancel(*, session: Session, job_id: int) -> Job:
    """Stop a queued or running job. A running body notices at its next progress report."""
    job = _locked_or_404(session, job_id)
    stopped = job.status in ("queued", "running") and _compare_and_set(
        session,
        job,
        _state(job),
        status="failed",
        error=CANCELLED,
        finished_at=utcnow(),
        dedup_key=None,
    )
    if not stopped:  # finished already, or just now by its worker
        session.refresh(job)
        raise Conflict(
            f"Job {job_id} is {job.status}; only queued or running jobs can be cancelled.",
            details={"status": job.status},
        )
    return job


def stale_running(
    *, session: Session, now: datetime, silent_s: float = claimants.SILENT_S
) -> list[Job]:
    """Running jobs whose claimant has been silent for `silent_s`: their worker is gone
    and no broker will redeliver (the embedded one cannot). They go back to the queue;
    a heartbeat arriving meanwhile keeps its job."""
    last_sign = func.coalesce(Job.heartbeat_at, Job.started_at)
    silent = session.scalars(
        select(Job)
        .where(Job.status == "running", last_sign < now - timedelta(seconds=silent_s))
        .with_for_update(skip_locked=True)
    ).all()
    return [
        job
        for job in silent
        if _compare_and_set(
            session,
            job,
            {**_state(job), "heartbeat_at": job.heartbeat_at},
            status="queued",
            published_at=None,
            not_before=None,
        )
    ]


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


def set_progress(
    *, session: Session, job_id: int, value: float, claim: Claim | None = None
) -> None:
    """Store progress; raise JobCancelled when the job is no longer running (or, given
    the claim, no longer running this attempt: another claimant took it over)."""
    job = get_job(session=session, job_id=job_id)
    if job.status != "running" or (claim is not None and not _claim_matches(job, claim)):
        raise JobCancelled(f"job {job_id} is {job.status}, attempt {job.attempts}")
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
    _title_follows(session, job)
    publish_after_commit(session, job)
    return job
