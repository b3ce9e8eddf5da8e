"""flask-limiter, and the throttle on wrong passwords.

Counters live in Redis when it is configured (shared by every replica), else in an
SQLite file in the data directory, shared by every process of the platform, so a
limit means the same with one gunicorn worker or eight.

Wrong passwords (sign-in, password change) count per account *and client
address*: that client gets 429 past the limit, while the owner signing in from
elsewhere is never refused. Per account alone they only raise an alert (a warning,
a metric) and slow further failures down, so no one can lock an account out.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter
from prometheus_client import Counter
from werkzeug.exceptions import TooManyRequests

from db.rate_limit_store import storage_uri
from db.settings import Settings
from web.runtime import runtime

log = logging.getLogger(__name__)
limiter = Limiter(key_func=get_remote_address, strategy="moving-window")
# Used only while the shared storage fails, as flask-limiter's own fallback is.
_fallback = MovingWindowRateLimiter(MemoryStorage())

PREFIX = "cbrtl"
# How long a wrong password waits for its answer while its account is under attack.
SLOWDOWN_S = 1.0
GUESSES_THROTTLED = Counter(
    "cbrtl_password_guesses_throttled_total",
    "Wrong-password attempts throttled: 'client' refused (429) for one account and "
    "address, 'account' slowed down because the account as a whole is under attack.",
    ["scope"],
)


def init_rate_limits(app: Flask, settings: Settings) -> None:
    if settings.redis_url:
        uri = settings.redis_url
        options: dict[str, float] = {"socket_connect_timeout": 1, "socket_timeout": 1}
    else:
        uri, options = storage_uri(settings.data_dir / "rate_limits.db"), {}
    app.config.update(
        RATELIMIT_STORAGE_URI=uri,
        RATELIMIT_STORAGE_OPTIONS=options,
        RATELIMIT_KEY_PREFIX=PREFIX,
        RATELIMIT_HEADERS_ENABLED=True,
        # A broken Redis must not take logins down with it.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )
    limiter.init_app(app)


def limit_from_settings(name: str) -> Callable[[], str]:
    """A limit read per request from the settings, so tests and operators can tune it."""
    return lambda: str(getattr(runtime().settings, name))


class Throttled(TooManyRequests):
    """Too many wrong passwords for one account from this client address."""


def _strategy() -> RateLimiter:
    return limiter.limiter if limiter.initialized else _fallback


def _storage_errors() -> type[Exception] | tuple[type[Exception], ...]:
    return limiter.storage.base_exceptions if limiter.initialized else ()


def _hit(limit: RateLimitItem, *ids: str) -> tuple[bool, float]:
    """Record one attempt if the limit allows it: (allowed, when the window frees up)."""
    try:
        return _hit_with(_strategy(), limit, ids)
    except _storage_errors() as error:
        log.warning("rate limits: storage unavailable, counting in memory: %s", error)
        return _hit_with(_fallback, limit, ids)


def _hit_with(
    strategy: RateLimiter, limit: RateLimitItem, ids: tuple[str, ...]
) -> tuple[bool, float]:
    if strategy.hit(limit, *ids):
        return True, 0.0
    return False, strategy.get_window_stats(limit, *ids).reset_time


def _client_ids(account: str) -> tuple[str, ...]:
    return PREFIX, "password-guesses", account, get_remote_address()


def check_password_attempt(account: str) -> None:
    """Count an attempt at `account`'s password from this client, before the password
    is verified (so concurrent guesses cannot overshoot); raise Throttled past the
    limit. `account` is the normalised email."""
    limit = parse(runtime().settings.rate_limit_login_account)
    allowed, reset_at = _hit(limit, *_client_ids(account))
    if not allowed:
        GUESSES_THROTTLED.labels("client").inc()
        raise Throttled(
            description=str(limit), retry_after=max(1, math.ceil(reset_at - time.time()))
        )


def password_accepted(account: str) -> None:
    """The right password clears this client's count for the account."""
    limit = parse(runtime().settings.rate_limit_login_account)
    try:
        _strategy().clear(limit, *_client_ids(account))
    except _storage_errors() as error:  # the count then simply runs out
        log.warning("rate limits: could not clear a count: %s", error)
    _fallback.clear(limit, *_client_ids(account))


def password_refused(account: str) -> None:
    """A wrong password: past the account-wide alert rate, warn, count and slow down."""
    alert = parse(runtime().settings.rate_limit_login_account_alert)
    allowed, _ = _hit(alert, PREFIX, "password-guesses-any", account)
    if allowed:
        return
    GUESSES_THROTTLED.labels("account").inc()
    log.warning(
        "wrong passwords for one account from many addresses, over %s: slowing them down",
        alert,
        extra={"account": account, "client": get_remote_address()},
    )
    time.sleep(SLOWDOWN_S)
