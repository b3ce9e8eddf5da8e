"""The optional Redis cache. Absent configuration means no cache, not an error."""

from __future__ import annotations

import redis

from db.settings import Settings


def make_cache(settings: Settings) -> redis.Redis | None:
    if not settings.redis_url:
        return None
    return redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=1.0, socket_timeout=1.0, decode_responses=True
    )
