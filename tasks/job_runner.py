"""The job lifecycle around a task body: claim, run, record; retries go through the outbox.

A body gets a session and the job's args and returns the result document; the
body's writes and the `succeeded` mark commit together, so a redelivered
message finds the job finished and does nothing. A transient failure queues the job
again with a backoff (`not_before`); the relay publishes it when due, so no message
waits in the broker or a worker's memory. Bad input and overrunning the time limit
fail at once: retrying cannot help.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
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

log = logging.getLogger(__name__)
T = TypeVar("T")
# About half a minute in all: long enough for a database restart or fail-over.
DATABASE_PAUSES_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
Body = Callable[[Session, dict[str, Any]], dict[str, Any]]
LongBody = Callable[[int, dict[str, Any], Callable[[float], None]], dict[str, Any]]


def job_task(type_name: str, **options: Any) -> Callable[[Body], Body]:
    """A short job: the body's writes and the `succeeded` mark commit together.

    Registers the Celery task under the job type's name and returns the plain body, so
    tests call it with a session; jobs are published by name, never through the object.
    """

    def decorate(body: Body) -> Body:
        def execute(job_id: int, args: dict[str, Any]) -> None:
            with session_factory()() as session:
                result = body(session, args)
                job = jobs.locked(session=session, job_id=job_id)
                if job is None or not jobs.succeed(session=session, job=job, result=result):
                    session.rollback()  # cancelled meanwhile: its effect must not land
                    return
                session.commit()

        _register(type_name, execute, options)
        return body

    return decorate


def long_job_task(type_name: str, **options: Any) -> Callable[[LongBody], LongBody]:
    """A long job (training, transcoding): the body opens short sessions of its own and
    holds none while it computes; it reports progress (0-1) as it goes."""

    def decorate(body: LongBody) -> LongBody:
        def execute(job_id: int, args: dict[str, Any]) -> None:
            def progress(value: float) -> None:
                with session_factory()() as session:
                    jobs.set_progress(session=session, job_id=job_id, value=value)
                    session.commit()

            result = body(job_id, args, progress)
            with session_factory()() as session:
                job = jobs.locked(session=session, job_id=job_id)
                if job is not None:
                    jobs.succeed(session=session, job=job, result=result)
                session.commit()

        _register(type_name, execute, options)
        return body

    return decorate


def _register(
    type_name: str, execute: Callable[[int, dict[str, Any]], None], options: dict[str, Any]
) -> Task:
    kind = job_type(type_name)

    limit = options.get("soft_time_limit")

    @shared_task(name=kind.task, bind=True, max_retries=0, **options)
    def run(self: Task, job_id: int) -> None:
        # RabbitMQ marks a message redelivered once the worker that had it is gone.
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        claimed = _while_database_returns(lambda: _claim(job_id, redelivered))
        if claimed is None:
            log.info("job %s: finished, running elsewhere or given up; not run", job_id)
            return
        args, attempt, request_id = claimed
        with bound_request_id(request_id), bound_job(job_id, kind.name):
            try:
                execute(job_id, args)
            except jobs.JobCancelled:
                log.info("job %s: cancelled by an operator; stopped", job_id)
            except SoftTimeLimitExceeded:
                _record_failure(job_id, f"Ran past its time limit of {limit} s.", retryable=False)
            except DomainError as error:  # bad input: retrying cannot help
                message = f"{type(error).__name__}: {error.message}"
                _record_failure(job_id, message, retryable=False)
            except Exception as error:
                log.warning("job %s attempt %s failed: %r", job_id, attempt, error)
                _record_failure(job_id, f"{type(error).__name__}: {error}", retryable=True)

    return run


def _claim(job_id: int, redelivered: bool) -> tuple[dict[str, Any], int, str | None] | None:
    with session_factory()() as session:
        job = jobs.start(session=session, job_id=job_id, redelivered=redelivered)
        session.commit()
        return None if job is None else (dict(job.args), job.attempts, job.request_id)


def _record_failure(job_id: int, error: str, *, retryable: bool) -> None:
    """Store the failure; a retry is queued with its backoff for the relay to publish."""

    def record() -> None:
        with session_factory()() as session:
            jobs.fail(session=session, job_id=job_id, error=error, retryable=retryable)
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
