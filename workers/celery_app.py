"""The Celery app the workers and beat run: `celery -A workers.celery_app ...`.

Tasks are found by module name (include), so this module imports no task code.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals

from db.broker import celery_config, dead_letter_queue, is_embedded
from db.settings import load_settings_or_exit
from workers import observability  # noqa: F401 - Celery signals: JSON logging, beat's heartbeat

settings = load_settings_or_exit()
# beat keeps its schedule state here; the folder may not exist on a fresh host.
settings.data_dir.mkdir(parents=True, exist_ok=True)

TASK_MODULES = [
    "tasks.media",
    "tasks.outbox",
    "tasks.periodic",
    "tasks.purge",
    "tasks.ratings",
    "tasks.recommender",
    "tasks.schedules",
    "tasks.trending",
    "tasks.uploads",
]
EXTRA_MODULES = [m.strip() for m in (settings.extra_task_modules or "").split(",") if m.strip()]
app = Celery("cbrtl", include=TASK_MODULES + EXTRA_MODULES)
app.conf.update(celery_config(settings))
app.conf.update(
    # A message is acked only after its task finished; a worker that dies mid-task
    # (SIGKILL, OOM) gives it back to the broker instead of losing it.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # Below RabbitMQ's 30-minute consumer timeout; long tasks set their own.
    task_soft_time_limit=300,
    task_time_limit=360,
    # When the broker connection drops, running late-ack tasks will be redelivered:
    # stop them rather than run them twice.
    worker_cancel_long_running_tasks_on_connection_loss=True,
    worker_send_task_events=True,
    task_send_sent_event=False,
    beat_schedule={
        "outbox-relay": {
            "task": "cbrtl.outbox.relay",
            "schedule": 5.0,
            "options": {"queue": "default", "expires": 5.0},
        },
        "schedules-tick": {
            "task": "cbrtl.schedules.tick",
            "schedule": 15.0,
            "options": {"queue": "default", "expires": 15.0},
        },
        "trending-refresh": {
            "task": "cbrtl.periodic.enqueue",
            "schedule": 300.0,
            "args": ("trending.refresh",),
            "options": {"queue": "default", "expires": 60.0},
        },
        "expire-uploads": {
            "task": "cbrtl.periodic.enqueue",
            "schedule": 3600.0,
            "args": ("media.expire_uploads",),
            "options": {"queue": "default", "expires": 600.0},
        },
    },
    beat_schedule_filename=str(settings.data_dir.resolve() / "celerybeat-schedule"),
)


@signals.worker_init.connect
def _declare_dead_letters(**_: Any) -> None:
    """Declared by workers so that RabbitMQ's dead letters have somewhere to go."""
    if not is_embedded(settings):
        with app.connection_for_write() as connection:
            dead_letter_queue()(connection.default_channel).declare()
