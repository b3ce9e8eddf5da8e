"""The job outbox: rows committed with their cause, published after commit.

A session factory with the outbox installed remembers the jobs each flush
inserted (and the rows `publish_after_commit` names) and publishes them once the
transaction commits; a rollback forgets them. Rows a crash left unpublished are
picked up by `relay`.

Installed with a `BackgroundPublisher` (the web does so), the commit only hands
the job ids to one daemon thread of the process, which publishes them with
publisher confirms and marks a whole batch published in one UPDATE: a request
does not wait for the broker. A full hand-over queue, a dead thread or a broker
outage loses nothing: the rows stay unpublished, and the relay sends them.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Engine, Update, and_, event, inspect, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.job_types import job_type
from db.models import Job
from db.models.base import utcnow

log = logging.getLogger(__name__)
_PENDING = "cbrtl.outbox.pending"


class Publisher(Protocol):
    def publish(self, *, job_id: int, task: str, queue: str) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    """What a job's message needs, read from the row while the session still has it."""

    job_id: int
    task: str
    queue: str

    @classmethod
    def of(cls, job: Job) -> Outgoing:
        return cls(job_id=job.id, task=job_type(job.type).task, queue=job.queue)


def install_outbox(factory: sessionmaker[Session], publisher: Publisher) -> None:
    event.listen(factory, "after_flush", _collect)
    event.listen(factory, "after_commit", partial(_publish_committed, publisher))
    event.listen(factory, "after_rollback", _forget)


def _collect(session: Session, _flush_context: Any) -> None:
    new_jobs = [obj for obj in session.new if isinstance(obj, Job)]
    if new_jobs:
        session.info.setdefault(_PENDING, []).extend(new_jobs)


def publish_after_commit(session: Session, job: Job) -> None:
    """Send a row this session did not add through a flush once this transaction
    commits: an operator's retry, a job inserted by a Core statement."""
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
    outgoing = list({job.id: Outgoing.of(job) for job in jobs}.values())
    bind = session.get_bind()
    if isinstance(publisher, BackgroundPublisher) and publisher.engine is bind:
        publisher.submit(outgoing)
        return
    published = publish(publisher, outgoing)
    if published:
        # The session cannot run SQL in after_commit; a short second one on the same bind can.
        with Session(bind=bind, join_transaction_mode="create_savepoint") as marker:
            marker.execute(_first_publication(published))
            marker.commit()


def publish(publisher: Publisher, jobs: Iterable[Outgoing], *, give_up: bool = False) -> list[int]:
    """Publish each job; return the ids that reached the broker. Failures wait for the
    relay; with `give_up`, so does every job after the first failure (broker down)."""
    done: list[int] = []
    for job in jobs:
        try:
            publisher.publish(job_id=job.job_id, task=job.task, queue=job.queue)
        except Exception as error:  # broker down: the row stays for the relay
            log.warning("job %s not published yet: %s", job.job_id, error)
            if give_up:
                break
            continue
        done.append(job.job_id)
    return done


def mark_published(*, session: Session, job_ids: list[int]) -> None:
    session.execute(update(Job).where(Job.id.in_(job_ids)).values(published_at=utcnow()))


def _first_publication(job_ids: Sequence[int]) -> Update:
    """Mark jobs sent after their commit. A row that a worker meanwhile ran and sent
    back to the queue (a retry or a takeover: attempts > 0, published_at cleared) is
    the relay's to send again; marking it would hide it."""
    return (
        update(Job)
        .where(
            Job.id.in_(job_ids),
            Job.published_at.is_(None),
            or_(Job.status != "queued", Job.attempts == 0),
        )
        .values(published_at=utcnow())
        .execution_options(synchronize_session=False)
    )


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
    published = publish(publisher, [Outgoing.of(job) for job in jobs])
    if published:
        mark_published(session=session, job_ids=published)
    return len(published)


_STOP = None
_publishers: weakref.WeakSet[BackgroundPublisher] = weakref.WeakSet()


class BackgroundPublisher:
    """Publishes committed jobs from one daemon thread per process.

    The thread, its hand-over queue, its locks and its publisher (one broker
    connection) belong to the process that made them: a forked child (gunicorn) drops
    the parent's at once and its first submit starts its own, as a submit does when
    the thread has died. At exit the process waits a bounded time for the jobs
    already handed over; the relay has the rest.
    """

    def __init__(
        self,
        make_publisher: Callable[[], Publisher],
        *,
        engine: Engine,
        max_pending: int = 10_000,
        batch_size: int = 200,
        linger_s: float = 0.01,
        exit_timeout_s: float = 5.0,
    ) -> None:
        self.engine = engine
        self.max_pending = max_pending
        self.batch_size = batch_size
        self.linger_s = linger_s
        self._make_publisher = make_publisher
        self._reset()
        # In the child, while it has one thread; the pid checks below are the backstop
        # for forks that bypass os.fork's hooks.
        os.register_at_fork(after_in_child=self._reset)
        atexit.register(self.close, exit_timeout_s)
        _publishers.add(self)

    def _reset(self) -> None:
        """Fresh state for this process (at start, and in a forked child, where a lock
        the parent held would stay held)."""
        self._lock = threading.Lock()
        self._queue: queue.Queue[list[Outgoing] | None] = queue.Queue(self.max_pending)
        self._settled = threading.Condition()
        self._submitted = self._done = 0
        self._thread: threading.Thread | None = None
        self._sync: Publisher | None = None
        self._pid = os.getpid()

    def publish(self, *, job_id: int, task: str, queue: str) -> None:
        """Publish one job synchronously (a session on another bind than the engine)."""
        if self._pid != os.getpid():
            self._reset()
        with self._lock:
            if self._sync is None:
                self._sync = self._make_publisher()
            sync = self._sync
        sync.publish(job_id=job_id, task=task, queue=queue)

    def submit(self, jobs: list[Outgoing]) -> None:
        """Hand committed jobs to the thread; never blocks. When the queue is full the
        jobs wait for the relay."""
        if self._pid != os.getpid():
            self._reset()
        with self._settled:
            self._submitted += len(jobs)
        try:
            self._queue.put_nowait(jobs)
        except queue.Full:
            log.warning("outbox: hand-over queue full; %d jobs wait for the relay", len(jobs))
            self._settle(len(jobs))
            return
        # After the put: a thread that is dying now either is seen dead here or sees
        # these jobs when it leaves (_run), so one of the two starts a successor.
        self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="cbrtl-outbox", daemon=True
                )
                self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait at most `timeout` s until every job handed over so far in this process
        was published or left to the relay; True when that happened."""
        if self._pid != os.getpid():
            return True  # nothing was handed over in this process
        with self._settled:
            target = self._submitted
            return self._settled.wait_for(lambda: self._done >= target, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Publish what was handed over (waiting at most `timeout` s), then stop."""
        if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
            return
        self.flush(timeout)
        with contextlib.suppress(queue.Full):  # still busy: a daemon, it ends with us
            self._queue.put_nowait(_STOP)

    def _settle(self, count: int) -> None:
        with self._settled:
            self._done += count
            self._settled.notify_all()

    def _run(self, jobs_queue: queue.Queue[list[Outgoing] | None]) -> None:
        stopped = False
        try:
            stopped = self._drain(jobs_queue)
        finally:  # a BaseException ends the thread: hand what is queued to a successor
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None
            if not stopped and not jobs_queue.empty() and jobs_queue is self._queue:
                self._start()

    def _drain(self, jobs_queue: queue.Queue[list[Outgoing] | None]) -> bool:
        """Publish batches until the stop marker (True), or until an exception that is
        not an Exception ends the thread."""
        publisher: Publisher | None = None
        while (first := jobs_queue.get()) is not _STOP:
            batch, stop = list(first), False
            until = time.monotonic() + self.linger_s
            while len(batch) < self.batch_size and not stop:
                try:
                    more = jobs_queue.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                stop = more is _STOP
                batch.extend(more or ())
            try:
                publisher = publisher or self._make_publisher()
                self._send(publisher, batch)
            except Exception:  # the thread must live on; these rows wait for the relay
                log.exception("outbox: %d jobs not published; the relay will send them", len(batch))
            finally:
                self._settle(len(batch))
            if stop:
                return True
        return True

    def _send(self, publisher: Publisher, batch: list[Outgoing]) -> None:
        published = publish(publisher, batch, give_up=True)
        if published:
            with self.engine.begin() as conn:
                conn.execute(_first_publication(published))


def flush(timeout: float) -> bool:
    """Wait (at most `timeout` s for each) until every background publisher of this
    process has sent what it was handed: for callers that read published_at next."""
    return all(publisher.flush(timeout) for publisher in list(_publishers))
