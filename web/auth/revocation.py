"""The revocation check of a safe request, carried by the request's first Redis read.

A GET or HEAD of the API changes nothing, so its check may wait until the view has
asked Redis for what it reads, as long as it is settled before the answer goes out:
verifying the token notes the sign-in family, the read models' first pipeline asks for
it too (`rider`), and an after-request hook settles it, asking db/blocklist.py itself
when no read did (or Redis failed), and answers 401 for a revoked session as before.
A write, and a page (which treats a revoked cookie as signed out), is checked before
its view runs, as flask-jwt-extended does.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request
from redis.client import Pipeline

from db.blocklist import KEY
from web.errors import error_response
from web.runtime import runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/"
REVOKED = "This session has ended; sign in again."
_PENDING = "cbrtl_revocation"


class PendingCheck:
    """A family's revocation lookup, waiting for a pipeline to ride in."""

    def __init__(self, family_id: str) -> None:
        self.family_id = family_id
        self.revoked: bool | None = None
        self.queued = False

    def queue(self, pipe: Pipeline) -> None:
        self.queued = True
        pipe.exists(KEY.format(self.family_id))

    def answer(self, reply: Any) -> None:
        self.revoked = bool(reply)


def defer(family_id: str) -> bool:
    """For a safe request of the JSON API with Redis configured: note the check for
    later (the caller reports "not revoked" for now). False: check at once. Pages check
    at once: they treat a revoked cookie as signed out, not as an error."""
    if (
        request.method not in SAFE_METHODS
        or not request.path.startswith(API_PREFIX)
        or runtime().cache is None
    ):
        return False
    g.setdefault(_PENDING, PendingCheck(family_id))
    return True


def rider() -> PendingCheck | None:
    """The request's pending check, for the next pipeline to carry (once)."""
    pending: PendingCheck | None = g.get(_PENDING)
    return pending if pending is not None and not pending.queued else None


def init_revocation(app: Flask) -> None:
    """Call after every other extension: Flask runs after-request hooks in reverse, so
    a 401 this gives still gets their headers, counts and compression."""
    app.after_request(_settle)


def _settle(response: Response) -> Response:
    pending: PendingCheck | None = g.pop(_PENDING, None)
    if pending is None:
        return response
    revoked = pending.revoked
    if revoked is None:  # no read carried it, or Redis failed mid-request
        revoked = runtime().blocklist.is_revoked(pending.family_id)
    return error_response(401, REVOKED) if revoked else response
