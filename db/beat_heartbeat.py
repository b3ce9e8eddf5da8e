"""Beat's heartbeat: the time of its scheduler's last pass, kept in Redis.

Beat writes it (workers/observability.py); /admin/operations and /metrics read it.
Without Redis there is no heartbeat: readers report none.
"""

from __future__ import annotations

from datetime import datetime

import redis

KEY = "cbrtl:beat:last_tick"
# Long enough to tell "beat stopped days ago" from "never ran"; gone after that.
TTL_S = 7 * 24 * 3600


def record(cache: redis.Redis, at: datetime) -> None:
    cache.set(KEY, at.isoformat(), ex=TTL_S)


def last_tick(cache: redis.Redis) -> datetime | None:
    value = cache.get(KEY)
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode()
    return datetime.fromisoformat(str(value))
