"""/metrics in-process (default registry) on the real services."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.orm import Session

from db import beat_heartbeat
from db.broker import CeleryPublisher
from db.engine import make_engine, make_session_factory
from db.models import Job
from db.models.base import utcnow
from db.services import jobs
from db.settings import Settings
from tests.factories import make_content
from tests.services import free_port
from web.runtime import Runtime

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: FlaskClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


@pytest.fixture
def default_queue(amqp_url: str, publisher: CeleryPublisher) -> Iterator[None]:
    """The job queues exist and `default` is empty (nothing consumes the test vhost)."""
    with Connection(amqp_url) as conn:
        channel = conn.default_channel
        for queue in publisher.app.conf.task_queues:
            queue(channel).declare()
        channel.queue_purge("default")
        yield
        channel.queue_purge("default")


@pytest.fixture
def cache(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.delete(beat_heartbeat.KEY)
    client.close()


def test_request_latency_by_route_method_and_status(
    client: FlaskClient, db_session: Session
) -> None:
    content = make_content(db_session)
    db_session.commit()
    route = "/api/v1/content/<id:content_id>"
    before = scrape(client)
    for _ in range(3):
        assert client.get(f"/api/v1/content/{content.id}").status_code == 200
    assert client.get("/api/v1/content/999999999").status_code == 404
    assert client.get("/no/such/page").status_code == 404
    after = scrape(client)

    def grew(**labels: str) -> float:
        name = "cbrtl_http_request_duration_seconds_count"
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    assert grew(route=route, method="GET", status="200") == 3
    assert grew(route=route, method="GET", status="404") == 1
    assert grew(route="<unmatched>", method="GET", status="404") == 1
    # Never the raw path as a label.
    assert not any(f"/api/v1/content/{content.id}" in str(labels) for _, labels in after)
    le = value(
        after, "cbrtl_http_request_duration_seconds_bucket", route=route, method="GET",
        status="200", le="+Inf",
    )  # fmt: skip
    assert le is not None and le >= 3


def test_job_gauges_durations_and_outbox_lag(
    client: FlaskClient, db_session: Session, default_queue: None
) -> None:
    now = utcnow()
    made = [jobs.enqueue(session=db_session, type="trending.refresh", args={}) for _ in range(4)]
    db_session.commit()  # published: the queue holds them
    dead, succeeded, slow, stuck = made
    dead.status, dead.finished_at = "dead", now
    succeeded.status, succeeded.started_at, succeeded.finished_at = (
        "succeeded", now - timedelta(seconds=3), now - timedelta(seconds=1),
    )  # fmt: skip
    slow.status, slow.started_at, slow.finished_at = (
        "succeeded", now - timedelta(seconds=100), now - timedelta(seconds=10),
    )  # fmt: skip
    db_session.commit()
    # A row a crash left unpublished two minutes ago, and one waiting out a retry backoff.
    db_session.execute(
        update(Job)
        .where(Job.id == stuck.id)
        .values(published_at=None, created_at=now - timedelta(seconds=120))
    )
    waiting = jobs.enqueue(session=db_session, type="media.expire_uploads", args={})
    db_session.commit()
    db_session.execute(
        update(Job)
        .where(Job.id == waiting.id)
        .values(published_at=None, not_before=now + timedelta(minutes=5))
    )
    db_session.commit()

    samples = scrape(client)
    assert value(samples, "cbrtl_jobs", type="trending.refresh", status="dead") == 1
    assert value(samples, "cbrtl_jobs", type="trending.refresh", status="succeeded") == 2
    assert value(samples, "cbrtl_jobs", type="trending.refresh", status="queued") == 1
    assert value(samples, "cbrtl_jobs", type="media.expire_uploads", status="queued") == 1
    assert value(samples, "cbrtl_jobs_dead") == 1

    hist = "cbrtl_job_duration_seconds"
    labels = {"type": "trending.refresh", "status": "succeeded"}
    assert value(samples, f"{hist}_count", **labels) == 2
    assert value(samples, f"{hist}_sum", **labels) == pytest.approx(92, abs=0.01)
    assert value(samples, f"{hist}_bucket", le="1.0", **labels) == 0
    assert value(samples, f"{hist}_bucket", le="5.0", **labels) == 1
    assert value(samples, f"{hist}_bucket", le="300.0", **labels) == 2
    assert value(samples, f"{hist}_bucket", le="+Inf", **labels) == 2

    lag = value(samples, "cbrtl_outbox_lag_seconds")
    assert lag is not None and 120 <= lag < 180  # the backoff row is not due: not lag
    assert value(samples, "cbrtl_outbox_unpublished") == 2

    # Published messages nobody consumed: three trending.refresh (the fourth was unpublished
    # after the fact, its message is still there too) and one expire_uploads.
    assert value(samples, "cbrtl_queue_depth", queue="default") == 5
    assert value(samples, "cbrtl_queue_depth", queue="ratings") is not None
    assert value(samples, "cbrtl_scrape_errors", source="database") == 0
    assert value(samples, "cbrtl_scrape_errors", source="broker") == 0


def test_beat_heartbeat_age(client: FlaskClient, cache: redis.Redis) -> None:
    assert "cbrtl_beat_last_tick_seconds" not in names(scrape(client))  # no beat yet
    beat_heartbeat.record(cache, utcnow() - timedelta(seconds=30))
    age = value(scrape(client), "cbrtl_beat_last_tick_seconds")
    assert age is not None and 30 <= age < 60


def test_a_source_that_is_down_is_left_out_not_a_failed_scrape(
    app: Flask, settings: Settings
) -> None:
    closed = free_port()
    broken = settings.model_copy(
        update={
            "broker_url": f"amqp://guest:guest@127.0.0.1:{closed}//",
            "redis_url": f"redis://127.0.0.1:{closed}/0",
        }
    )
    runtime: Runtime = app.extensions["cbrtl"]
    app.extensions["cbrtl"] = replace(
        runtime,
        publisher=CeleryPublisher(broken),
        cache=redis.Redis.from_url(broken.redis_url or "", socket_connect_timeout=1),
    )
    samples = scrape(app.test_client())
    assert value(samples, "cbrtl_scrape_errors", source="broker") == 1
    assert value(samples, "cbrtl_scrape_errors", source="cache") == 1
    assert value(samples, "cbrtl_scrape_errors", source="database") == 0
    assert "cbrtl_queue_depth" not in names(samples)
    assert "cbrtl_jobs_dead" in names(samples)

    engine = make_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{closed}/none")
    try:
        app.extensions["cbrtl"] = replace(runtime, session_factory=make_session_factory(engine))
        samples = scrape(app.test_client())
    finally:
        engine.dispose()
    assert value(samples, "cbrtl_scrape_errors", source="database") == 1
    assert not names(samples) & {"cbrtl_jobs", "cbrtl_jobs_dead", "cbrtl_outbox_lag_seconds"}
    assert value(samples, "cbrtl_queue_depth", queue="default") is not None


def test_the_openapi_document_describes_metrics_and_operations(client: FlaskClient) -> None:
    paths: dict[str, Any] = client.get("/api/v1/openapi.json").json["paths"]
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]
    operations = paths["/api/v1/admin/operations"]["get"]["responses"]["200"]
    assert "application/json" in operations["content"]
