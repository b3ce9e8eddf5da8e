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
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import DomainError
from db.job_types import job_type
from db.log_setup import bound_job
from db.models import Job
from db.request_context import bound_request_id
from db.services import jobs
from tasks.context import session_factory

log = logging.getLogger(__name__)
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
                job = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
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
                job = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
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
        with session_factory()() as session:
            job = jobs.start(session=session, job_id=job_id, redelivered=redelivered)
            session.commit()
            if job is None:
                log.info("job %s: finished, running elsewhere or given up; not run", job_id)
                return
            args, attempt, request_id = dict(job.args), job.attempts, job.request_id
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


def _record_failure(job_id: int, error: str, *, retryable: bool) -> None:
    """Store the failure; a retry is queued with its backoff for the relay to publish."""
    with session_factory()() as session:
        jobs.fail(session=session, job_id=job_id, error=error, retryable=retryable)
        session.commit()
