"""GET /api/v1/admin/operations: queues, outbox, jobs and beat for operators."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from kombu import Connection
from sqlalchemy import update
from sqlalchemy.orm import Session

from db import beat_heartbeat
from db.broker import CeleryPublisher
from db.models import Job
from db.models.base import utcnow
from db.services import jobs
from db.settings import Settings
from tests.auth import login
from tests.factories import make_user
from tests.services import free_port
from web.runtime import Runtime

URL = "/api/v1/admin/operations"


@pytest.fixture
def empty_queues(amqp_url: str, publisher: CeleryPublisher) -> Iterator[None]:
    with Connection(amqp_url) as conn:
        channel = conn.default_channel
        for queue in publisher.app.conf.task_queues:
            queue(channel).declare()
            channel.queue_purge(queue.name)
        yield
        for queue in publisher.app.conf.task_queues:
            channel.queue_purge(queue.name)


@pytest.fixture
def cache(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.delete(beat_heartbeat.KEY)
    client.close()


def test_only_ops_and_admin(client: FlaskClient, db_session: Session) -> None:
    plain = make_user(db_session)
    ops = make_user(db_session, roles=("ops",))
    admin = make_user(db_session, roles=("admin",))
    db_session.commit()
    assert client.get(URL).status_code == 401
    forbidden = client.get(URL, headers=login(client, plain.email))
    assert forbidden.status_code == 403 and forbidden.json["error"]["code"] == "forbidden"
    assert client.get(URL, headers=login(client, ops.email)).status_code == 200
    assert client.get(URL, headers=login(client, admin.email)).status_code == 200


def test_the_numbers(
    client: FlaskClient, db_session: Session, empty_queues: None, cache: redis.Redis
) -> None:
    ops = make_user(db_session, roles=("ops",))
    now = utcnow()
    made = [jobs.enqueue(session=db_session, type="trending.refresh", args={}) for _ in range(5)]
    rating = jobs.enqueue(
        session=db_session, type="ratings.recompute_stats", args={"content_id": 1}
    )
    db_session.commit()  # six messages published: five on default, one on ratings
    running, failed, dead, _queued, unpublished = made
    running.status, running.started_at = "running", now
    failed.status, failed.finished_at = "failed", now
    dead.status, dead.finished_at = "dead", now
    rating.status = "succeeded"
    db_session.commit()
    db_session.execute(
        update(Job)
        .where(Job.id == unpublished.id)
        .values(published_at=None, created_at=now - timedelta(seconds=90))
    )
    db_session.commit()
    tick = now - timedelta(seconds=12)
    beat_heartbeat.record(cache, tick)

    response = client.get(URL, headers=login(client, ops.email))
    assert response.status_code == 200
    body = response.json
    assert body["jobs"] == {"queued": 2, "running": 1, "failed": 1, "dead": 1}
    assert body["outbox"]["unpublished"] == 1
    assert 90 <= body["outbox"]["lag_s"] < 150
    assert body["queues"]["default"] == {"depth": 5}
    assert body["queues"]["ratings"] == {"depth": 1}
    assert body["queues"]["ml"] == {"depth": 0} and body["queues"]["media"] == {"depth": 0}
    beat = body["beat"]
    assert datetime.fromisoformat(beat["last_tick_at"]) == tick.astimezone(UTC)
    assert 12 <= beat["age_s"] < 60
    assert body["problems"] == []


def test_without_redis_beat_is_unknown_and_a_down_broker_leaves_depths_empty(
    app: Flask, db_session: Session, settings: Settings
) -> None:
    ops = make_user(db_session, roles=("ops",))
    db_session.commit()
    broken = settings.model_copy(
        update={"broker_url": f"amqp://guest:guest@127.0.0.1:{free_port()}//"}
    )
    runtime: Runtime = app.extensions["cbrtl"]
    app.extensions["cbrtl"] = replace(runtime, cache=None, publisher=CeleryPublisher(broken))
    client = app.test_client()
    body = client.get(URL, headers=login(client, ops.email)).json
    assert body["beat"] == {"last_tick_at": None, "age_s": None}
    assert body["queues"]["default"] == {"depth": None}
    assert body["problems"] == ["broker"]
    assert body["jobs"] == {"queued": 0, "running": 0, "failed": 0, "dead": 0}
    assert body["outbox"] == {"unpublished": 0, "lag_s": 0.0}
