"""Every job type has a task the workers register, on the queue the job row names."""

from __future__ import annotations

from db.job_types import JOB_TYPES
from workers.celery_app import app


def test_every_job_type_has_a_registered_task() -> None:
    app.loader.import_default_modules()
    registered = set(app.tasks)
    for kind in JOB_TYPES.values():
        assert kind.task in registered, kind
        assert app.conf.task_routes[kind.task] == {"queue": kind.queue}


def test_beat_runs_the_relay_the_schedules_and_trending() -> None:
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"cbrtl.outbox.relay", "cbrtl.schedules.tick", "cbrtl.periodic.enqueue"} <= tasks
    app.loader.import_default_modules()
    assert tasks <= set(app.tasks)
