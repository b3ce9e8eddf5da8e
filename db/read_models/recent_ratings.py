"""What each viewer rated since their list was written, so a cached list is served
without asking the database which of its titles they rated.

A list (db/recs_cache.py) leaves out what the viewer had rated when it was scored;
the rating view adds each new rating here after its commit, and a list read takes
both in one Redis round trip (db/read_models/list_reads.py). The set is conservative:
it only ever hides more (a title rated and then un-rated stays hidden until the list's
next refresh, which every rating queues). It lives a day, longer than any retrain
that could publish a list scored before those ratings. Any Redis failure reads as
"unknown", and the caller asks the database instead.
"""

from __future__ import annotations

import logging

import redis

log = logging.getLogger(__name__)
KEY = "cbrtl:rated-since:{}:{}"
TTL_S = 24 * 3600


class RecentRatings:
    def __init__(self, cache: redis.Redis | None, platform: str) -> None:
        self.cache = cache
        self.platform = platform

    def key(self, user_id: int) -> str:
        return KEY.format(self.platform, user_id)

    def add(self, user_id: int, content_id: int) -> None:
        """After the rating's commit."""
        if self.cache is None:
            return
        try:
            with self.cache.pipeline(transaction=False) as pipe:
                pipe.sadd(self.key(user_id), content_id)
                pipe.expire(self.key(user_id), TTL_S)
                pipe.execute()
        except redis.RedisError as error:
            # The list's refresh, queued with the rating, leaves the title out soon.
            log.warning("recent rating not recorded: %s", error)

    def remove(self, user_id: int, content_id: int) -> None:
        """After a rating's deletion committed (the title may be recommended again)."""
        if self.cache is None:
            return
        try:
            self.cache.srem(self.key(user_id), content_id)
        except redis.RedisError as error:
            log.warning("recent rating not removed: %s", error)
