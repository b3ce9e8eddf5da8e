"""flask-limiter: counters in Redis when configured (shared by every replica), else memory."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from db.services.users import normalise_email
from db.settings import Settings
from web.runtime import runtime

limiter = Limiter(key_func=get_remote_address, strategy="moving-window")


def init_rate_limits(app: Flask, settings: Settings) -> None:
    app.config.update(
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 1, "socket_timeout": 1},
        RATELIMIT_KEY_PREFIX="cbrtl",
        RATELIMIT_HEADERS_ENABLED=True,
        # A broken Redis must not take logins down with it.
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
    )
    limiter.init_app(app)


def account_key() -> str:
    """Failed logins count against the account being guessed, whatever the IP."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    return f"account:{normalise_email(email) if isinstance(email, str) else '-'}"


def limit_from_settings(name: str) -> Callable[[], str]:
    """A limit read per request from the settings, so tests and operators can tune it."""
    return lambda: str(getattr(runtime().settings, name))
