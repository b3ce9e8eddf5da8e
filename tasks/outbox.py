"""The outbox relay: a beat tick that publishes rows a crash left unpublished."""

from __future__ import annotations

from celery import shared_task

from db import outbox
from tasks.context import publisher, session_factory, settings

RELAY_TASK = "cbrtl.outbox.relay"


@shared_task(name=RELAY_TASK, ignore_result=True, soft_time_limit=20, time_limit=30)
def relay_outbox() -> int:
    with session_factory()() as session:
        count = outbox.relay(
            session=session, publisher=publisher(), grace_s=settings().outbox_grace_s
        )
        session.commit()
    return count
