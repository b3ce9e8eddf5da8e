"""The job lifecycle around a task body: claim, run, record, retry with backoff.

A body gets a session and the job's args and returns the result document; the
body's writes and the `succeeded` mark commit together, so a redelivered
message finds the job finished and does nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from sqlalchemy.orm import Session

from db.errors import DomainError
from db.job_types import job_type
from db.services import jobs
from tasks.context import session_factory

log = logging.getLogger(__name__)
Body = Callable[[Session, dict[str, Any]], dict[str, Any]]
LongBody = Callable[[int, dict[str, Any], Callable[[float], None]], dict[str, Any]]


def backoff_s(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2**attempt))


def job_task(type_name: str, **options: Any) -> Callable[[Body], Body]:
    """A short job: the body's writes and the `succeeded` mark commit together.

    Registers the Celery task under the job type's name and returns the plain body, so
    tests call it with a session; jobs are published by name, never through the object.
    """

    def decorate(body: Body) -> Body:
        def execute(job_id: int, args: dict[str, Any]) -> None:
            with session_factory()() as session:
                result = body(session, args)
                jobs.succeed(
                    session=session, job=jobs.get_job(session=session, job_id=job_id), result=result
                )
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
                job = jobs.get_job(session=session, job_id=job_id)
                jobs.succeed(session=session, job=job, result=result)
                session.commit()

        _register(type_name, execute, options)
        return body

    return decorate


def _register(
    type_name: str, execute: Callable[[int, dict[str, Any]], None], options: dict[str, Any]
) -> Task:
    kind = job_type(type_name)

    @shared_task(name=kind.task, bind=True, max_retries=None, **options)
    def run(self: Task, job_id: int) -> None:
        with session_factory()() as session:
            job = jobs.start(session=session, job_id=job_id)
            if job is None:
                log.info("job %s: already finished or unknown; nothing to do", job_id)
                return
            session.commit()
            args, attempt = dict(job.args), job.attempts
        try:
            execute(job_id, args)
        except DomainError as error:  # bad input: retrying cannot help
            _record_failure(job_id, f"{type(error).__name__}: {error.message}", retryable=False)
        except Exception as error:
            log.warning("job %s attempt %s failed: %r", job_id, attempt, error)
            if _record_failure(job_id, f"{type(error).__name__}: {error}", retryable=True):
                raise self.retry(countdown=backoff_s(attempt), exc=error) from error

    return run


def _record_failure(job_id: int, error: str, *, retryable: bool) -> bool:
    """Store the failure; True when another attempt is due."""
    with session_factory()() as session:
        again = jobs.fail(session=session, job_id=job_id, error=error, retryable=retryable)
        session.commit()
    return again is not None
