"""Messages ready in each job queue, asked of the broker the publisher talks to.

RabbitMQ: a passive queue_declare per queue (it creates nothing; a queue nobody has
declared yet holds nothing). The embedded filesystem broker: its message files.
"""

from __future__ import annotations

import os
from pathlib import Path

from amqp.exceptions import NotFound

from db.broker import DEAD_LETTER_QUEUE, CeleryPublisher


def queue_names(publisher: CeleryPublisher) -> list[str]:
    """The job queues, and RabbitMQ's dead-letter queue (what it gave up delivering)."""
    names = [queue.name for queue in publisher.app.conf.task_queues]
    if not _embedded(publisher):
        names.append(DEAD_LETTER_QUEUE)
    return names


def _embedded(publisher: CeleryPublisher) -> bool:
    return str(publisher.app.conf.broker_url).startswith("filesystem:")


def queue_depths(publisher: CeleryPublisher, *, timeout: float = 2.0) -> dict[str, int]:
    """{queue: messages ready}; raises when the broker cannot be reached."""
    queues = queue_names(publisher)
    if _embedded(publisher):
        folder = Path(publisher.app.conf.broker_transport_options["data_folder_in"])
        return _folder_depths(folder, queues)
    depths: dict[str, int] = {}
    with publisher.app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        channel = conn.channel()
        try:
            for name in queues:
                try:
                    depths[name] = int(
                        channel.queue_declare(queue=name, passive=True).message_count
                    )
                except NotFound:
                    # The broker closed the channel with the 404: open another.
                    depths[name] = 0
                    channel = conn.channel()
        finally:
            channel.close()
    return depths


def _folder_depths(folder: Path, queues: list[str]) -> dict[str, int]:
    """kombu's filesystem transport names each message `<stamp>_<uuid>.<queue>.msg`."""
    depths = dict.fromkeys(queues, 0)
    suffixes = {f"{name}.msg": name for name in queues}
    with os.scandir(folder) as entries:
        for entry in entries:
            name = suffixes.get(entry.name.partition(".")[2])
            if name is not None:
                depths[name] += 1
    return depths
