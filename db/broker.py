"""The message broker adapter: queue topology, Celery configuration, the publisher.

Web, relay and workers all talk to the broker through this module, so the
queues a publisher declares are the queues a worker consumes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from celery import Celery
from kombu import Exchange, Queue

from db.job_types import JOB_TYPES, QUEUES
from db.settings import Settings

EXCHANGE = Exchange("cbrtl", type="direct", durable=True)
# Messages RabbitMQ gives up on (delivered too often) land here for an operator.
DEAD_LETTERS = Exchange("cbrtl.dead", type="fanout", durable=True)
DEAD_LETTER_QUEUE = "cbrtl.dead"
# A backstop above the jobs' own attempt bound (at most 5), which ends a poison job
# as `dead` in the database first.
DELIVERY_LIMIT = 20


def task_queues(settings: Settings) -> list[Queue]:
    arguments: dict[str, Any] = {}
    if not is_embedded(settings):
        arguments = {"x-dead-letter-exchange": DEAD_LETTERS.name}
        if settings.queue_type == "quorum":
            arguments |= {"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT}
    return [
        Queue(name, EXCHANGE, routing_key=name, durable=True, queue_arguments=arguments)
        for name in QUEUES
    ]


def dead_letter_queue() -> Queue:
    return Queue(DEAD_LETTER_QUEUE, DEAD_LETTERS, durable=True)


def is_embedded(settings: Settings) -> bool:
    return urlsplit(settings.resolved_broker_url).scheme == "filesystem"


def transport_options(settings: Settings) -> dict[str, Any]:
    if is_embedded(settings):
        folder = settings.broker_folder
        for sub in ("queue", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
        }
    # Publisher confirms: send_task returns only once RabbitMQ has the message.
    return {"confirm_publish": True}


def celery_config(settings: Settings) -> dict[str, Any]:
    """What publishers and workers must agree on."""
    return {
        "broker_url": settings.resolved_broker_url,
        "broker_transport_options": transport_options(settings),
        "broker_connection_timeout": 4.0,
        "broker_connection_retry_on_startup": True,
        "task_queues": task_queues(settings),
        "task_default_queue": "default",
        "task_default_exchange": EXCHANGE.name,
        "task_default_routing_key": "default",
        "task_routes": {jt.task: {"queue": jt.queue} for jt in JOB_TYPES.values()},
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "result_backend": None,
        "task_default_delivery_mode": "persistent",
        "enable_utc": True,
        "timezone": "UTC",
    }


class CeleryPublisher:
    """Publishes job messages by task name; the web never imports task code."""

    def __init__(self, settings: Settings) -> None:
        self.app = Celery("cbrtl-publisher", set_as_current=False)
        self.app.conf.update(celery_config(settings))

    def publish(self, *, job_id: int, task: str, queue: str) -> None:
        self.app.send_task(
            task,
            args=(job_id,),
            queue=queue,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
        )

    def ping(self, timeout: float = 2.0) -> None:
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
