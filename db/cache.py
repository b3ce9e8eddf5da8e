"""The optional Redis cache. Absent configuration means no cache, not an error."""

from __future__ import annotations

from typing import Any, Protocol

import redis
from redis.client import Pipeline

from db.settings import Settings


def make_cache(settings: Settings) -> redis.Redis | None:
    if not settings.redis_url:
        return None
    return redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=1.0, socket_timeout=1.0, decode_responses=True
    )


class Rider(Protocol):
    """One command that rides along in another read's pipeline, so a request pays one
    round trip for both (web/auth/revocation.py)."""

    def queue(self, pipe: Pipeline) -> None:
        """Queue exactly one command on `pipe`."""

    def answer(self, reply: Any) -> None:
        """Its reply, once the pipeline ran (never called when it failed)."""
