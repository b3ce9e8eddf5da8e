"""Liveness and readiness, at the root (not under /api/v1)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Response, jsonify
from sqlalchemy import text

from web.blueprint import Blueprint
from web.runtime import Runtime, runtime

log = logging.getLogger(__name__)
blp = Blueprint("health", __name__, description="Health")


@blp.get("/healthz")
@blp.response(200)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _database(rt: Runtime) -> None:
    with rt.session_factory() as session:
        session.execute(text("SELECT 1"))


def _broker(rt: Runtime) -> None:
    rt.publisher.ping()


def _cache(rt: Runtime) -> None:
    if rt.cache is not None:
        rt.cache.ping()


def _storage(rt: Runtime) -> None:
    rt.storage.check()


CHECKS: dict[str, Callable[[Runtime], None]] = {
    "database": _database,
    "broker": _broker,
    "cache": _cache,
    "storage": _storage,
}
# The API keeps answering without these (the cache's readers fall back to the
# database): when they fail the web is degraded, not down.
OPTIONAL = frozenset({"cache"})


@blp.get("/readyz")
@blp.response(200)
@blp.alt_response(503, description="A dependency is down")
def readyz() -> Response:
    """Each dependency: ok, degraded (an optional one fails) or down (503, Retry-After)."""
    rt = runtime()
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check(rt)
            checks[name] = "ok"
        except Exception as error:  # a down dependency is a result here, not a crash
            checks[name] = "degraded" if name in OPTIONAL else "down"
            log.warning("readiness: %s is %s: %s", name, checks[name], error)
    states = set(checks.values())
    status = "down" if "down" in states else "degraded" if "degraded" in states else "ok"
    response = jsonify({"status": status, "checks": checks})
    response.status_code = 503 if status == "down" else 200
    if status == "down":
        response.headers["Retry-After"] = "5"
    return response
