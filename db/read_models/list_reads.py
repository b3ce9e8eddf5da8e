"""A viewer's cached list, what they rated since, and the documents of the list's head,
in one Redis round trip.

Dressing a list needs the documents of its first titles, and which titles those are
depends on the list and on what the viewer rated since it was written: two round trips
from here. A server-side script reads the list, picks its head the way the view will
(skipping titles rated since, and repeats) and reads those documents with their
generations, so a cache hit costs one round trip (a Redis round trip costs about as
much CPU in this process as the rest of the view's work). The view checks the head
itself; anything the script did not fetch is read as before (db/read_models/titles.py).
The script names the document keys it reads, which a single Redis allows and a Redis
Cluster would not (the keys would need one hash tag).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import NoScriptError

from db import recs_cache
from db.cache import Rider
from db.read_models.recent_ratings import RecentRatings
from db.read_models.titles import Stored, TitleStore, parse

log = logging.getLogger(__name__)

# KEYS: the list, the titles rated since. ARGV: document key prefix, generation key
# prefix, how many of the list's titles to fetch, then further ids to fetch.
SCRIPT = """
local raw = redis.call('GET', KEYS[1])
local rated = redis.call('SMEMBERS', KEYS[2])
if not raw then return {false, rated, {}, {}} end
local skip, ids = {}, {}
for _, id in ipairs(rated) do skip[id] = true end
local want = tonumber(ARGV[3])
for _, item in ipairs(cjson.decode(raw)['items']) do
  if #ids >= want then break end
  local id = string.format('%d', item[1])
  if not skip[id] then skip[id] = true; ids[#ids + 1] = id end
end
for i = 4, #ARGV do
  if not skip[ARGV[i]] then skip[ARGV[i]] = true; ids[#ids + 1] = ARGV[i] end
end
if #ids == 0 then return {raw, rated, ids, {}} end
local keys = {}
for i, id in ipairs(ids) do keys[i] = ARGV[1] .. id; keys[#ids + i] = ARGV[2] .. id end
return {raw, rated, ids, redis.call('MGET', unpack(keys))}
"""


@dataclass
class CachedList:
    doc: dict[str, Any]  # as db/recs_cache.py stores it
    rated: set[int]  # what the viewer rated since it was written
    stored: dict[int, Stored]  # the documents read with it (TitleStore.documents)


class ListReads:
    def __init__(self, cache: redis.Redis | None, recent: RecentRatings, titles: TitleStore):
        self.cache = cache
        self.recent = recent
        self._sha = cache.register_script(SCRIPT).sha if cache is not None else ""
        self._prefixes = titles.key_prefixes()

    def read(
        self, user_id: int, *, head: int, extra: Sequence[int] = (), rider: Rider | None = None
    ) -> CachedList | None:
        """The list with the documents of its first `head` titles not rated since and of
        `extra`; None for a miss or when Redis fails (the caller asks the database)."""
        if self.cache is None:
            return None
        keys = [recs_cache.KEY.format(user_id), self.recent.key(user_id)]
        args = [*self._prefixes, head, *extra]
        try:
            try:
                replies = self._run(keys, args, rider)
            except NoScriptError:  # Redis restarted or its scripts were flushed
                self.cache.script_load(SCRIPT)
                replies = self._run(keys, args, rider)
        except redis.RedisError as error:
            log.warning("recommendation cache unavailable: %s", error)
            return None
        (raw, rated, ids, values), *extra_replies = replies
        if rider is not None:
            rider.answer(extra_replies[0])
        if not raw:
            return None
        fetched = [int(i) for i in ids]
        return CachedList(json.loads(raw), {int(i) for i in rated}, parse(fetched, values))

    def _run(self, keys: list[str], args: list[Any], rider: Rider | None) -> list[Any]:
        assert self.cache is not None
        with self.cache.pipeline(transaction=False) as pipe:
            pipe.evalsha(self._sha, len(keys), *keys, *args)
            if rider is not None:
                rider.queue(pipe)
            replies: list[Any] = pipe.execute()
        return replies
