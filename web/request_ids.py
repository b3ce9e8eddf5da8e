"""X-Request-ID: taken from the client when it is a sane token, else made here.

It is bound for the request's logs and the jobs it enqueues (db.request_context),
and echoed on every response, errors included.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from db.request_context import set_request_id

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")


def incoming_request_id(value: str | None) -> str:
    """The client's id when it is 1-64 of [A-Za-z0-9._-], else a new uuid4 hex."""
    if value is not None and _SANE.fullmatch(value):
        return value
    return uuid.uuid4().hex


def init_request_ids(app: Flask) -> None:
    """Register before every other hook, so that their logs carry the id too."""

    @app.before_request
    def _bind() -> None:
        g.request_id = incoming_request_id(request.headers.get(HEADER))
        set_request_id(g.request_id)

    @app.after_request
    def _echo(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id is not None:
            response.headers[HEADER] = request_id
        return response

    @app.teardown_request
    def _unbind(_exc: BaseException | None = None) -> None:
        # The thread serves other requests next: no log line may inherit this id.
        set_request_id(None)
