"""Every error becomes the one JSON shape of API.md, here and nowhere else."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from marshmallow import Schema, fields
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from db.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TooLarge,
    UnsupportedMediaType,
)
from web.pages.rendering import error_page, wants_page

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[DomainError], int] = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    PermissionDenied: 403,
    AuthenticationFailed: 401,
    TooLarge: 413,
    UnsupportedMediaType: 415,
}

CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


def error_response(
    status: int, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
) -> Response:
    if wants_page():
        return error_page(status, message)
    body = {
        "error": {
            "code": code or CODE_BY_STATUS.get(status, "error"),
            "message": message,
            "details": details or {},
        }
    }
    response = jsonify(body)
    response.status_code = status
    return response


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """webargs' {"json": {"score": ["..."]}} -> {"score": "..."}."""
    out: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = (
                ""
                if key in {"json", "query", "form", "headers", "view_args"} and not prefix
                else key
            )
            out.update(_flatten(value, f"{prefix}.{name}".strip(".") if name else prefix))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        out[prefix or "body"] = " ".join(messages)
    elif isinstance(messages, list):
        for index, item in enumerate(messages):
            out.update(_flatten(item, f"{prefix}.{index}"))
    else:
        out[prefix or "body"] = str(messages)
    return out


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    details = _flatten(data["messages"]) if "messages" in data else {}
    if status == 422:
        message = "The request has invalid fields."
    elif status == 429:
        message = (
            f"Too many requests (limit: {error.description}); retry after Retry-After seconds."
        )
    elif status == 400:
        message = "The request body is not valid JSON." if details else (error.description or "")
    else:
        message = error.description or error.name
    response = error_response(status, message, details=details)
    # Allow (405) and Retry-After (429, 503) the exception carries reach the client.
    for header in ("Allow", "Retry-After"):
        if value := error.get_response().headers.get(header):
            response.headers[header] = value
    return response


def _domain_error(error: DomainError) -> Response:
    status = next(
        (STATUS_BY_ERROR[cls] for cls in type(error).__mro__ if cls in STATUS_BY_ERROR), 400
    )
    return error_response(status, error.message, code=error.code, details=error.details)


RETRY_AFTER_S = "5"


def _database_unavailable(error: DBAPIError) -> Response:
    """The database is down or unreachable: tell the client to come back, not that we broke.
    The pool's pre-ping replaces dead connections, so service resumes without a restart."""
    if (
        not isinstance(error, OperationalError | InterfaceError)
        and not error.connection_invalidated
    ):
        return _unexpected(error)
    log.warning(
        "database unavailable: %s", str(error.orig).splitlines()[0] if error.orig else error
    )
    response = error_response(
        503, "The database is unavailable; try again shortly.", code="unavailable"
    )
    response.headers["Retry-After"] = RETRY_AFTER_S
    return response


def _unexpected(error: Exception) -> Response:
    # The traceback goes to the log, never to the client.
    log.exception("unhandled error", exc_info=error)
    return error_response(500, "Something went wrong on our side.", code="internal_error")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(DBAPIError, _database_unavailable)
    app.register_error_handler(InternalServerError, _unexpected)
    app.register_error_handler(Exception, _unexpected)


class ErrorDetail(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(keys=fields.String(), values=fields.String())


class ErrorEnvelope(Schema):
    """The body of every error response (API.md)."""

    error = fields.Nested(ErrorDetail, required=True)
