"""The outbox relay: a beat tick that publishes rows a crash left unpublished."""

from __future__ import annotations

import logging

from celery import shared_task

from db import outbox
from db.models.base import utcnow
from db.services import jobs
from tasks.context import publisher, session_factory, settings

RELAY_TASK = "cbrtl.outbox.relay"
log = logging.getLogger(__name__)


@shared_task(name=RELAY_TASK, ignore_result=True, soft_time_limit=20, time_limit=30)
def relay_outbox() -> int:
    with session_factory()() as session:
        for job in jobs.stale_running(session=session, now=utcnow()):
            log.warning("job %s: its worker fell silent (no heartbeat); queued again", job.id)
        session.flush()
        count = outbox.relay(
            session=session, publisher=publisher(), grace_s=settings().outbox_grace_s
        )
        session.commit()
    return count
