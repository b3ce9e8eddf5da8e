"""A running job's heartbeat: a daemon thread in the process that runs it.

Every claimants.HEARTBEAT_S it records that the claimant is alive, on a short session
of its own. It stops when the job ends, or when the attempt is no longer its own
(cancelled, taken over): the body then stops at its next progress report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from db import claimants
from db.models.base import utcnow
from db.services import jobs
from tasks.context import session_factory

log = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    def __init__(self, claim: jobs.Claim, interval_s: float = claimants.HEARTBEAT_S) -> None:
        super().__init__(name=f"heartbeat-job-{claim.job_id}", daemon=True)
        self.claim, self.interval_s = claim, interval_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            try:
                with session_factory()() as session:
                    ours = jobs.beat(session=session, claim=self.claim, now=utcnow())
                    session.commit()
            except Exception as error:  # a missed beat; the next one may get through
                log.warning("job %s: heartbeat not recorded: %s", self.claim.job_id, error)
                continue
            if not ours:
                return

    def stop(self) -> None:
        self.stopped.set()


@contextmanager
def beating(claim: jobs.Claim) -> Iterator[Heartbeat]:
    heartbeat = Heartbeat(claim)
    heartbeat.start()
    try:
        yield heartbeat
    finally:
        heartbeat.stop()
