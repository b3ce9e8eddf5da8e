"""The id of the request (or job) being served, for logs and for the jobs it causes.

The web sets it per request, a worker per job; `jobs.enqueue` stores it on every job
row, so a request id follows the request into its jobs and their logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("cbrtl_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def bound_request_id(value: str | None) -> Iterator[None]:
    token = _request_id.set(value)
    try:
        yield
    finally:
        _request_id.reset(token)


def set_request_id(value: str | None) -> None:
    """For hooks that cannot wrap the work in `bound_request_id` (Flask's before_request)."""
    _request_id.set(value)
