"""Trending lists in Redis. Any Redis failure reads as a miss: the database answers."""

from __future__ import annotations

import json
import logging
from typing import Any

import redis

log = logging.getLogger(__name__)
KEY = "cbrtl:trending:{}"
TTL_S = 3600


def read(cache: redis.Redis | None, window: str) -> list[int] | None:
    if cache is None:
        return None
    try:
        raw: Any = cache.get(KEY.format(window))
    except redis.RedisError as error:
        log.warning("trending cache unavailable: %s", error)
        return None
    return [int(i) for i in json.loads(raw)] if raw else None


def write(cache: redis.Redis | None, window: str, ids: list[int]) -> None:
    if cache is None:
        return
    try:
        cache.set(KEY.format(window), json.dumps(ids), ex=TTL_S)
    except redis.RedisError as error:
        log.warning("trending cache not updated: %s", error)
