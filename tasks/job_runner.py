"""The job lifecycle around a task body: claim, run, record; retries go through the outbox.

A body gets a session and the job's args and returns the result document; the
body's writes and the `succeeded` mark commit together, so a redelivered
message finds the job finished and does nothing (a long body's last writes come back
as `Finish.save` for the same reason). While the job runs, a heartbeat says its
claimant is alive; a delivery finding it dead takes over. A transient failure queues the job
again with a backoff (`not_before`); the relay publishes it when due, so no message
waits in the broker or a worker's memory. Bad input and overrunning the time limit
fail at once: retrying cannot help.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from celery import Task, shared_task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from db.errors import DomainError
from db.job_types import job_type
from db.log_setup import bound_job
from db.request_context import bound_request_id
from db.services import jobs
from tasks.context import session_factory
from tasks.heartbeat import beating

log = logging.getLogger(__name__)
T = TypeVar("T")
# About half a minute in all: long enough for a database restart or fail-over.
DATABASE_PAUSES_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True)
class Finish:
    """What a long job returns when it has more to write: `save` runs in the transaction
    that marks the job succeeded, so both land or neither does (a worker dying between
    two transactions would leave the effect done and the job to run again)."""

    result: dict[str, Any]
    save: Callable[[Session], None]


Body = Callable[[Session, dict[str, Any]], dict[str, Any]]
LongBody = Callable[[int, dict[str, Any], Callable[[float], None]], "dict[str, Any] | Finish"]


def job_task(type_name: str, **options: Any) -> Callable[[Body], Body]:
    """A short job: the body's writes and the `succeeded` mark commit together.

    Registers the Celery task under the job type's name and returns the plain body, so
    tests call it with a session; jobs are published by name, never through the object.
    """

    def decorate(body: Body) -> Body:
        _register(type_name, partial(run_short, body), options)
        return body

    return decorate


def long_job_task(type_name: str, **options: Any) -> Callable[[LongBody], LongBody]:
    """A long job (training, transcoding): the body opens short sessions of its own and
    holds none while it computes; it reports progress (0-1) as it goes."""

    def decorate(body: LongBody) -> LongBody:
        _register(type_name, partial(run_long, body), options)
        return body

    return decorate


def run_short(body: Body, claim: jobs.Claim, args: dict[str, Any]) -> None:
    with session_factory()() as session:
        result = body(session, args)
        if not jobs.succeed(session=session, claim=claim, result=result):
            session.rollback()  # cancelled or taken over meanwhile: its effect must not land
            return
        session.commit()


def run_long(body: LongBody, claim: jobs.Claim, args: dict[str, Any]) -> None:
    def progress(value: float) -> None:
        with session_factory()() as session:
            jobs.set_progress(session=session, job_id=claim.job_id, value=value, claim=claim)
            session.commit()

    outcome = body(claim.job_id, args, progress)
    finish = outcome if isinstance(outcome, Finish) else Finish(outcome, lambda _: None)
    with session_factory()() as session:
        if not jobs.succeed(session=session, claim=claim, result=finish.result):
            session.rollback()
            return
        finish.save(session)
        session.commit()


def _register(
    type_name: str, execute: Callable[[jobs.Claim, dict[str, Any]], None], options: dict[str, Any]
) -> Task:
    kind = job_type(type_name)

    limit = options.get("soft_time_limit")

    @shared_task(name=kind.task, bind=True, max_retries=0, **options)
    def run(self: Task, job_id: int) -> None:
        # RabbitMQ marks a message redelivered once the worker that had it is gone; on
        # any broker, a claim whose claimant is gone is taken over (jobs.start).
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        claimed = _while_database_returns(lambda: _claim(job_id, redelivered))
        if claimed is None:
            log.info("job %s: finished, running elsewhere or given up; not run", job_id)
            return
        claim, args, request_id = claimed
        with bound_request_id(request_id), bound_job(job_id, kind.name), beating(claim):
            try:
                execute(claim, args)
            except jobs.JobCancelled:
                log.info("job %s: cancelled by an operator or taken over; stopped", job_id)
            except SoftTimeLimitExceeded:
                message = f"Ran past its time limit of {limit} s."
                _record_failure(claim, message, retryable=False)
            except DomainError as error:  # bad input: retrying cannot help
                message = f"{type(error).__name__}: {error.message}"
                _record_failure(claim, message, retryable=False)
            except Exception as error:
                log.warning("job %s attempt %s failed: %r", job_id, claim.attempt, error)
                _record_failure(claim, f"{type(error).__name__}: {error}", retryable=True)

    return run


def _claim(job_id: int, redelivered: bool) -> tuple[jobs.Claim, dict[str, Any], str | None] | None:
    with session_factory()() as session:
        job = jobs.start(session=session, job_id=job_id, redelivered=redelivered)
        session.commit()
        return None if job is None else (jobs.Claim.of(job), dict(job.args), job.request_id)


def _record_failure(claim: jobs.Claim, error: str, *, retryable: bool) -> None:
    """Store the failure; a retry is queued with its backoff for the relay to publish."""

    def record() -> None:
        with session_factory()() as session:
            jobs.fail(
                session=session,
                job_id=claim.job_id,
                error=error,
                retryable=retryable,
                claim=claim,
            )
            session.commit()

    _while_database_returns(record)


def _while_database_returns(step: Callable[[], T]) -> T:
    """Run a bookkeeping step, waiting out a short database outage (a restart).

    The job row is the record: if it cannot be written, the message goes back to the
    queue (redelivered) rather than being acked with the job left hanging.
    """
    for pause in DATABASE_PAUSES_S:
        try:
            return step()
        except DBAPIError as error:
            log.warning("database unavailable (%s); trying again in %s s", error.orig, pause)
            time.sleep(pause)  # a worker waiting for its database, not a test
    try:
        return step()
    except DBAPIError as error:
        raise Reject(f"database unavailable: {error.orig}", requeue=True) from error
