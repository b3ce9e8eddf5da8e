"""The one logging set-up of every process: web, workers, beat and the CLI.

Each line is one JSON object (`CBRTL_LOG_FORMAT=json`, the default) or plain text:
ts (ISO 8601, UTC), level, logger, message, the request id and the job being run
when there is one, the fields a caller passed with `extra=` (the access log's
method, path, status, duration_ms) and exc_info as one string. Secrets that slip
into a message (bearer tokens, JWTs, passwords in URLs or `password=...`) are masked.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from db.request_context import current_request_id
from db.settings import Settings

_job: ContextVar[tuple[int, str] | None] = ContextVar("cbrtl_job", default=None)

# What every LogRecord has; anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_CONTEXT_FIELDS = frozenset({"request_id", "job_id", "job_type"})
_SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|authori[sz]ation|cookie|api_?key", re.I)
_MASK = "[redacted]"
_SECRET_PATTERNS = (
    # Authorization: Bearer <token> (and Basic <credentials>)
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.I), rf"\1 {_MASK}"),
    # a JWT anywhere (header.payload.signature, base64url)
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), _MASK),
    # scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.I), rf"\1{_MASK}@"),
    # password=..., "password": "...", token: ...
    (
        re.compile(
            r"""((?:password|passwd|secret|token|api_?key)["']?\s*[:=]\s*["']?)[^\s"',&;}]+""",
            re.I,
        ),
        rf"\1{_MASK}",
    ),
)


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def current_job() -> tuple[int, str] | None:
    """(job id, job type) of the job this worker thread is running, if any."""
    return _job.get()


@contextmanager
def bound_job(job_id: int, job_type: str) -> Iterator[None]:
    """Every log line inside carries job_id and job_type (the job runner wraps each job)."""
    token = _job.set((job_id, job_type))
    try:
        yield
    finally:
        _job.reset(token)


def _context(record: logging.LogRecord) -> dict[str, Any]:
    """request_id / job_id / job_type: given with `extra=`, else the current context's."""
    fields: dict[str, Any] = {}
    request_id = getattr(record, "request_id", None) or current_request_id()
    if request_id:
        fields["request_id"] = request_id
    job = current_job()
    job_id = getattr(record, "job_id", None) or (job[0] if job else None)
    job_type = getattr(record, "job_type", None) or (job[1] if job else None)
    if job_id is not None:
        fields["job_id"] = job_id
    if job_type is not None:
        fields["job_type"] = job_type
    return fields


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for key, value in vars(record).items():
        if key in _RECORD_FIELDS or key in _CONTEXT_FIELDS or key.startswith("_"):
            continue
        if _SECRET_NAME.search(key):
            value = _MASK
        elif isinstance(value, str):
            value = redact(value)
        elif not isinstance(value, int | float | bool | type(None)):
            value = redact(str(value))
        extras[key] = value
    return extras


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        doc.update(_context(record))
        doc.update(_extras(record))
        if record.exc_info:
            doc["exc_info"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            doc["exc_info"] = redact(record.exc_text)
        if record.stack_info:
            doc["stack_info"] = redact(self.formatStack(record.stack_info))
        # ASCII escapes: a lone surrogate or a newline cannot break the line.
        return json.dumps(doc, default=str)


class TextFormatter(logging.Formatter):
    """`2026-01-01T12:00:00.000Z INFO web.errors: message [request_id=... job_id=...]`."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line = f"{ts.replace('+00:00', 'Z')} {redact(super().format(record))}"
        fields = {**_context(record), **_extras(record)}
        if fields:
            line += " [" + " ".join(f"{key}={value}" for key, value in fields.items()) + "]"
        return line


def make_formatter(log_format: str) -> logging.Formatter:
    return TextFormatter() if log_format == "text" else JsonFormatter()


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_OURS = "_cbrtl_handler"


def configure_logging(
    settings: Settings, *, level: str | int | None = None, logfile: str | None = None
) -> None:
    """Send the root logger's records to stderr (or `logfile`) in the configured format.

    Idempotent: a second call replaces the handler it added; handlers someone else
    added (a test runner's capture) stay.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    handler: logging.Handler = logging.FileHandler(logfile) if logfile else _StderrHandler()
    handler.setFormatter(make_formatter(settings.log_format))
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    root.setLevel(level if level is not None else settings.log_level)
