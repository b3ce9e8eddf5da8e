"""Beat's tick for operators' schedules: read from the database, so changes need no restart."""

from __future__ import annotations

from celery import shared_task

from db.models.base import utcnow
from db.services import schedules
from tasks.context import session_factory

TICK_TASK = "cbrtl.schedules.tick"


@shared_task(name=TICK_TASK, ignore_result=True, soft_time_limit=20, time_limit=30)
def tick() -> list[int]:
    with session_factory()() as session:
        fired = schedules.fire_due(session=session, now=utcnow())
        session.commit()
    return fired
