"""`cbrtl health beat`, the probe compose and Kubernetes run against beat."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import redis

from db import beat_heartbeat
from db.models.base import utcnow
from tests.services import cbrtl


def test_beat_health_follows_the_heartbeat(redis_url: str, tmp_path: Path) -> None:
    cache = redis.Redis.from_url(redis_url)
    env = {"CBRTL_REDIS_URL": redis_url, "CBRTL_DATA_DIR": str(tmp_path)}
    try:
        cache.delete(beat_heartbeat.KEY)
        never = cbrtl("health", "beat", **env)
        assert never.returncode == 1 and "has not ticked yet" in never.stderr

        beat_heartbeat.record(cache, utcnow() - timedelta(seconds=5))
        fresh = cbrtl("health", "beat", **env)
        assert fresh.returncode == 0, fresh.stderr
        assert fresh.stdout.startswith("beat ticked ")

        beat_heartbeat.record(cache, utcnow() - timedelta(seconds=300))
        stale = cbrtl("health", "beat", "--max-age", "120", **env)
        assert stale.returncode == 1 and "limit 120 s" in stale.stderr
    finally:
        cache.delete(beat_heartbeat.KEY)
        cache.close()


def test_beat_health_without_redis_says_why(tmp_path: Path) -> None:
    alone = cbrtl("health", "beat", CBRTL_DATA_DIR=str(tmp_path))
    assert alone.returncode == 1 and "CBRTL_REDIS_URL" in alone.stderr
    unreachable = cbrtl(
        "health", "beat", CBRTL_DATA_DIR=str(tmp_path), CBRTL_REDIS_URL="redis://127.0.0.1:9/0"
    )
    # A Redis outage leaves beat's health unknown, which must not fail (restart) it.
    assert unreachable.returncode == 0 and "Redis is unreachable" in unreachable.stderr
    bad = cbrtl("health", "beat", "--max-age", "0", CBRTL_DATA_DIR=str(tmp_path))
    assert bad.returncode == 2 and "--max-age" in bad.stderr
