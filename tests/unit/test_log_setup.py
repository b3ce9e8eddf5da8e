"""The log line format: JSON (or text) with ids, extras, exceptions, and no secrets."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from db.log_setup import JsonFormatter, TextFormatter, bound_job, current_job, redact
from db.request_context import bound_request_id


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("cbrtl.test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_a_json_line_has_the_fields_and_the_context() -> None:
    with bound_request_id("req-1"), bound_job(42, "ratings.recompute_stats"):
        line = json.loads(JsonFormatter().format(record("hello %s", "world")))
    assert line["message"] == "hello world"
    assert line["level"] == "INFO" and line["logger"] == "cbrtl.test"
    assert line["ts"].endswith("Z")
    assert line["request_id"] == "req-1"
    assert line["job_id"] == 42 and line["job_type"] == "ratings.recompute_stats"
    assert current_job() is None


def test_no_context_no_fields() -> None:
    line = json.loads(JsonFormatter().format(record("plain")))
    assert set(line) == {"ts", "level", "logger", "message"}


def test_extras_are_fields_and_secret_named_ones_are_masked() -> None:
    made = record("GET / 200", method="GET", status=200, duration_ms=1.5, password="hunter22")
    line = json.loads(JsonFormatter().format(made))
    assert line["method"] == "GET" and line["status"] == 200 and line["duration_ms"] == 1.5
    assert line["password"] == "[redacted]"


def test_an_exception_is_one_string_field_on_one_line() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        made = logging.LogRecord(
            "cbrtl.test", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    text = JsonFormatter().format(made)
    assert "\n" not in text
    line = json.loads(text)
    assert line["exc_info"].startswith("Traceback") and "ValueError: bad" in line["exc_info"]


def test_a_lone_surrogate_cannot_break_the_line() -> None:
    text = JsonFormatter().format(record("odd \ud800 input"))
    text.encode("utf-8")
    assert json.loads(text)["message"] == "odd \ud800 input"


@pytest.mark.parametrize(
    ("given", "kept", "gone"),
    [
        ("Authorization: Bearer abc.def-ghi", "Bearer [redacted]", "abc.def-ghi"),
        ("token eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl here", "here", "eyJzdWIiOiIx"),
        ("amqp://guest:s3cret@rabbit:5672//", "amqp://guest:[redacted]@rabbit", "s3cret"),
        ('{"password": "hunter22", "email": "a@b"}', '"email": "a@b"', "hunter22"),
        ("refresh_token=xyz&page=2", "page=2", "xyz"),
        ("job 5 not published yet", "job 5 not published yet", "[redacted]"),
    ],
)
def test_redact(given: str, kept: str, gone: str) -> None:
    masked = redact(given)
    assert kept in masked and gone not in masked


def test_text_lines_carry_the_ids_too() -> None:
    with bound_request_id("req-9"):
        line = TextFormatter().format(record("hi", path="/x"))
    assert line.endswith("INFO cbrtl.test: hi [request_id=req-9 path=/x]")
