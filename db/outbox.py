"""The job outbox: rows committed with their cause, published after commit.

A session factory with the outbox installed remembers the jobs each flush
inserted and publishes them once the transaction commits; a rollback forgets
them. Rows a crash left unpublished are picked up by `relay`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import and_, event, inspect, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.job_types import job_type
from db.models import Job
from db.models.base import utcnow

log = logging.getLogger(__name__)
_PENDING = "cbrtl.outbox.pending"


class Publisher(Protocol):
    def publish(self, *, job_id: int, task: str, queue: str) -> None: ...


def install_outbox(factory: sessionmaker[Session], publisher: Publisher) -> None:
    event.listen(factory, "after_flush", _collect)
    event.listen(factory, "after_commit", partial(_publish_committed, publisher))
    event.listen(factory, "after_rollback", _forget)


def _collect(session: Session, _flush_context: Any) -> None:
    new_jobs = [obj for obj in session.new if isinstance(obj, Job)]
    if new_jobs:
        session.info.setdefault(_PENDING, []).extend(new_jobs)


def publish_after_commit(session: Session, job: Job) -> None:
    """Send an existing row again once this transaction commits (an operator's retry)."""
    session.info.setdefault(_PENDING, []).append(job)


def _forget(session: Session) -> None:
    # A savepoint's rollback leaves the outer transaction's jobs standing; its own
    # jobs turn transient and are dropped at publish time.
    if not session.in_nested_transaction():
        session.info.pop(_PENDING, None)


def _publish_committed(publisher: Publisher, session: Session) -> None:
    # after_commit also fires when a savepoint is released: nothing is visible yet.
    if session.in_nested_transaction():
        return
    # A job added in a savepoint that was rolled back is transient again: not ours to send.
    jobs = [job for job in session.info.pop(_PENDING, []) if not inspect(job).transient]
    if not jobs:
        return
    published = publish(publisher, jobs)
    if published:
        # The session cannot run SQL in after_commit; a short second one on the same bind can.
        with Session(bind=session.get_bind(), join_transaction_mode="create_savepoint") as marker:
            mark_published(session=marker, job_ids=published)
            marker.commit()


def publish(publisher: Publisher, jobs: Iterable[Job]) -> list[int]:
    """Publish each job; return the ids that reached the broker. Failures wait for the relay."""
    done: list[int] = []
    for job in jobs:
        kind = job_type(job.type)
        try:
            publisher.publish(job_id=job.id, task=kind.task, queue=job.queue)
        except Exception as error:  # broker down: the row stays for the relay
            log.warning("job %s not published yet: %s", job.id, error)
            continue
        done.append(job.id)
    return done


def mark_published(*, session: Session, job_ids: list[int]) -> None:
    session.execute(update(Job).where(Job.id.in_(job_ids)).values(published_at=utcnow()))


def relay(*, session: Session, publisher: Publisher, grace_s: float, limit: int = 500) -> int:
    """Publish queued rows that nobody published within the grace period, and retries
    whose backoff has passed. Caller commits."""
    now = utcnow()
    due = or_(
        and_(Job.not_before.is_(None), Job.created_at < now - timedelta(seconds=grace_s)),
        Job.not_before <= now,
    )
    stmt = (
        select(Job)
        .where(Job.published_at.is_(None), Job.status == "queued", due)
        .order_by(Job.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    jobs = list(session.scalars(stmt))
    published = publish(publisher, jobs)
    if published:
        mark_published(session=session, job_ids=published)
    return len(published)
