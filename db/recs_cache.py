"""Users' top-N lists in Redis, written by the scoring jobs. Failures read as misses."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

log = logging.getLogger(__name__)
KEY = "cbrtl:recs:{}"
TTL_S = 7 * 24 * 3600


def read(cache: redis.Redis | None, user_id: int) -> dict[str, Any] | None:
    if cache is None:
        return None
    try:
        raw: Any = cache.get(KEY.format(user_id))
    except redis.RedisError as error:
        log.warning("recommendation cache unavailable: %s", error)
        return None
    return json.loads(raw) if raw else None


def write_many(cache: redis.Redis | None, lists: dict[int, dict[str, Any]]) -> None:
    """{user id: {"model_version", "generated_at", "items": [[content id, score, reason]]}}."""
    if cache is None or not lists:
        return
    try:
        if len(lists) == 1:  # a per-rating refresh: one SET, no pipeline to build
            ((user_id, doc),) = lists.items()
            cache.set(KEY.format(user_id), json.dumps(doc), ex=TTL_S)
            return
        with cache.pipeline(transaction=False) as pipe:
            for user_id, doc in lists.items():
                pipe.set(KEY.format(user_id), json.dumps(doc), ex=TTL_S)
            pipe.execute()
    except redis.RedisError as error:
        log.warning("recommendation cache not updated: %s", error)
