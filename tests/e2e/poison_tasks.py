"""Job types that misbehave on purpose, loaded by workers of the fault tests
(CBRTL_EXTRA_TASK_MODULES=tests.e2e.poison_tasks) and by the test process that
enqueues them."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from sqlalchemy.orm import Session

from db.job_types import JobType, register
from tasks.job_runner import job_task

ALWAYS_FAILS = register(JobType("test.always_fails", "cbrtl.test.always_fails", "default")).name
KILLS_WORKER = register(JobType("test.kills_worker", "cbrtl.test.kills_worker", "default")).name
OVERRUNS = register(JobType("test.overruns", "cbrtl.test.overruns", "default")).name
OVERRUN_LIMIT_S = 2


@job_task(ALWAYS_FAILS)
def always_fails(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("poison: this job always raises")


@job_task(KILLS_WORKER)
def kills_worker(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    os.kill(os.getpid(), signal.SIGKILL)  # the pool process dies mid-job, every time
    raise AssertionError("unreachable")


@job_task(OVERRUNS, soft_time_limit=OVERRUN_LIMIT_S, time_limit=OVERRUN_LIMIT_S + 10)
def overruns(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    time.sleep(60)  # the work under test: far past its soft limit
    return {}
