"""Celery's logging and beat's heartbeat, through the signals workers/observability.py connects."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
from celery import Celery
from celery.beat import Service
from celery.signals import beat_init, setup_logging

from db import beat_heartbeat
from db.log_setup import bound_job, configure_logging
from db.request_context import bound_request_id
from db.settings import Settings
from tests.services import free_port, wait_for
from workers.observability import BeatHeartbeat


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, redis_url: str) -> None:
    """What a worker or beat process reads its settings from."""
    for name, value in {
        "CBRTL_DATA_DIR": str(tmp_path),
        "CBRTL_REDIS_URL": redis_url,
        "CBRTL_LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def cache(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.delete(beat_heartbeat.KEY)
    yield client
    client.delete(beat_heartbeat.KEY)
    client.close()


def test_celery_logs_json_to_its_logfile(env: None, tmp_path: Path, settings: Settings) -> None:
    logfile = tmp_path / "worker.log"
    try:
        setup_logging.send(
            sender=None, loglevel=logging.INFO, logfile=str(logfile), format="", colorize=False
        )
        with bound_request_id("req-5"), bound_job(7, "trending.refresh"):
            logging.getLogger("tasks.test").info("working")
        logging.getLogger("tasks.test").debug("below --loglevel")
    finally:
        configure_logging(settings)  # back to stderr, as the other tests expect
    lines = [json.loads(line) for line in logfile.read_text().splitlines()]
    assert [line["message"] for line in lines] == ["working"]
    assert lines[0]["request_id"] == "req-5"
    assert (lines[0]["job_id"], lines[0]["job_type"]) == (7, "trending.refresh")


def test_beat_init_starts_a_heartbeat_of_the_scheduler_loop(env: None, cache: redis.Redis) -> None:
    service = Service(Celery(set_as_current=False), scheduler_cls="celery.beat:Scheduler")
    replies = beat_init.send(sender=service)
    heartbeat = next(reply for _, reply in replies if isinstance(reply, BeatHeartbeat))
    try:
        assert cache.get(beat_heartbeat.KEY) is None  # nothing before the first pass
        service.scheduler.tick()
        stamp = heartbeat.last_tick
        assert stamp is not None
        wait_for(lambda: beat_heartbeat.last_tick(cache) == stamp, timeout=10, what="the heartbeat")
        service.scheduler.tick()
        assert heartbeat.last_tick is not None and heartbeat.last_tick > stamp
        newer = heartbeat.last_tick
        wait_for(lambda: beat_heartbeat.last_tick(cache) == newer, timeout=10, what="a newer one")
        assert isinstance(beat_heartbeat.last_tick(cache), datetime)
    finally:
        heartbeat.stop()


def test_without_redis_beat_has_no_heartbeat(
    env: None, monkeypatch: pytest.MonkeyPatch, cache: redis.Redis
) -> None:
    monkeypatch.delenv("CBRTL_REDIS_URL")
    service = Service(Celery(set_as_current=False), scheduler_cls="celery.beat:Scheduler")
    replies = beat_init.send(sender=service)
    assert not any(isinstance(reply, BeatHeartbeat) for _, reply in replies)
    service.scheduler.tick()


def test_a_down_redis_never_stops_the_schedule(caplog: pytest.LogCaptureFixture) -> None:
    down = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    service = Service(Celery(set_as_current=False), scheduler_cls="celery.beat:Scheduler")
    heartbeat = BeatHeartbeat(down, interval=0.05)
    heartbeat.watch(service.scheduler)
    try:
        for _ in range(3):
            service.scheduler.tick()
        wait_for(
            lambda: "beat heartbeat: Redis is unreachable" in caplog.text,
            timeout=10,
            what="the warning",
        )
        service.scheduler.tick()  # still ticking
    finally:
        heartbeat.stop()
    assert caplog.text.count("beat heartbeat: Redis is unreachable") == 1
