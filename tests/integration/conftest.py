"""Fixtures shared by the integration tests (the session-wide ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection
from sqlalchemy import Engine

from db.broker import CeleryPublisher
from db.engine import make_engine
from db.migrate import upgrade


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite file of the test's own (the embedded default's database)."""
    url = f"sqlite:///{tmp_path / 'cbrtl.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def ratings_queue(amqp_url: str, publisher: CeleryPublisher) -> Iterator[Connection]:
    """A broker connection with every queue declared and `ratings` empty."""
    publisher.ping()
    with Connection(amqp_url) as conn:
        channel = conn.default_channel
        for queue in publisher.app.conf.task_queues:
            queue(channel).declare()
        channel.queue_purge("ratings")
        yield conn
