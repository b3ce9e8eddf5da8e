"""Tokens verified once per process, not on every request.

flask-jwt-extended decodes a token three times per request (claims, header, then
the verified decode), and PyJWT checks every base64 character in Python: about half
a millisecond of CPU per request, more than the rest of a cached read. A token is
an immutable string whose signature either holds or not, so each process keeps the
result of verifying it, keyed by the exact string (a forged or altered token is a
different key), until shortly before it expires. Expiry is checked on every hit; the
revocation check (db/blocklist.py) still runs on every request.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

import flask_jwt_extended.view_decorators as jwt_views
from cachetools import TTLCache
from flask_jwt_extended import JWTManager

# Enough for every viewer a process serves within the window; the oldest go first.
MAX_TOKENS = 50_000
KEEP_S = 300.0


class VerifyingOnceJWTManager(JWTManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._verified: TTLCache[tuple[str, str | None, bool], dict[str, Any]] = TTLCache(
            MAX_TOKENS, KEEP_S
        )
        self._lock = threading.Lock()  # a TTLCache is not safe across threads
        super().__init__(*args, **kwargs)
        # The request decorator reads the token's header once more, outside the manager;
        # the header of a given token string never changes.
        jwt_views.get_unverified_jwt_headers = _header

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: str | None = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        key = (encoded_token, csrf_value, allow_expired)
        with self._lock:
            claims = self._verified.get(key)
        if claims is not None and (allow_expired or claims.get("exp", 0) > time.time()):
            return dict(claims)
        # A miss, or a token that expired since: the library verifies (and raises).
        claims = super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        with self._lock:
            self._verified[key] = dict(claims)
        return claims


@lru_cache(maxsize=10_000)
def _cached_header(encoded_token: str) -> dict[str, Any]:
    return dict(_read_header(encoded_token))


def _header(encoded_token: str) -> dict[str, Any]:
    return dict(_cached_header(encoded_token))


_read_header = jwt_views.get_unverified_jwt_headers
