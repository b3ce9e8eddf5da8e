"""Beat's side of periodic jobs: enqueue a job row; the outbox publishes it.

The job, not the beat message, is the unit of work: it is visible, retried and
coalesced (one queued refresh at a time, however long the queue is).
"""

from __future__ import annotations

from celery import shared_task

from db.services import jobs
from tasks.context import session_factory

ENQUEUE_TASK = "cbrtl.periodic.enqueue"


@shared_task(name=ENQUEUE_TASK, ignore_result=True, soft_time_limit=20, time_limit=30)
def enqueue_periodic(job_type: str) -> int:
    with session_factory()() as session:
        job = jobs.enqueue(
            session=session, type=job_type, args={}, dedup_key=f"periodic:{job_type}"
        )
        session.commit()
        return job.id
