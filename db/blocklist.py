"""Where revoked sign-in sessions are looked up on every authenticated request.

The database (token_families.revoked_at) is the record; with Redis configured
the check is a Redis lookup, written when a session is revoked, so every web
replica sees a revocation at once and no request pays a database round trip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

import redis
from sqlalchemy.orm import Session, sessionmaker

from db.services import sessions

log = logging.getLogger(__name__)
KEY = "cbrtl:revoked-session:{}"


class Blocklist:
    def __init__(
        self, *, session_factory: sessionmaker[Session], cache: redis.Redis | None, ttl: timedelta
    ) -> None:
        self.session_factory = session_factory
        self.cache = cache
        self.ttl = ttl

    def _from_database(self, family_id: str) -> bool:
        with self.session_factory() as session:
            return sessions.is_revoked(session=session, family_id=family_id)

    def is_revoked(self, family_id: str) -> bool:
        if self.cache is None:
            return self._from_database(family_id)
        try:
            return bool(self.cache.exists(KEY.format(family_id)))
        except redis.RedisError as error:
            log.warning("blocklist: Redis unavailable, asking the database: %s", error)
            return self._from_database(family_id)

    def add(self, family_ids: Iterable[str]) -> None:
        """Call after the revoking transaction committed."""
        if self.cache is None:
            return
        try:
            with self.cache.pipeline() as pipe:
                for family_id in family_ids:
                    pipe.set(KEY.format(family_id), 1, ex=self.ttl)
                pipe.execute()
        except redis.RedisError as error:
            log.error("blocklist: could not record a revocation in Redis: %s", error)
