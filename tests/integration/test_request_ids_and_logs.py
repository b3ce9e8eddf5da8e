"""X-Request-ID on every response, and JSON log lines that carry it (app in-process)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.log_setup import JsonFormatter
from db.models import Job
from tests.auth import login
from tests.factories import PASSWORD, make_content, make_user
from tests.services import free_port

HEX32 = re.compile(r"[0-9a-f]{32}")
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines(app: Flask) -> Iterator[Lines]:
    """Every record of the test, formatted as the processes format them, parsed back."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_sane_request_id_is_kept(client: FlaskClient) -> None:
    for given in ("abc-123", "a.b_c-D", "x" * 64):
        response = client.get("/healthz", headers={"X-Request-ID": given})
        assert response.headers["X-Request-ID"] == given


def test_a_missing_request_id_is_made(client: FlaskClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert HEX32.fullmatch(first) and HEX32.fullmatch(second) and first != second


@pytest.mark.parametrize("given", ["x" * 65, "has space", "semi;colon", "a/b", "é", ""])
def test_a_malformed_request_id_is_replaced(client: FlaskClient, given: str) -> None:
    answered = client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"]
    assert answered != given and HEX32.fullmatch(answered)


def test_errors_carry_the_request_id(client: FlaskClient) -> None:
    cases = [
        ("GET", "/no/such/route", {}, 404),
        ("GET", "/api/v1/me", {}, 401),
        ("PUT", "/api/v1/content/1/rating", {"json": {"score": 9}}, 422),
        ("POST", "/api/v1/auth/login", {"json": {"email": 3}}, 422),
        ("DELETE", "/healthz", {}, 405),
    ]
    for n, (method, path, kwargs, status) in enumerate(cases):
        response = client.open(path, method=method, headers={"X-Request-ID": f"err-{n}"}, **kwargs)
        assert response.status_code == status, (path, response.json)
        assert response.headers["X-Request-ID"] == f"err-{n}"
        assert "error" in response.json


def test_a_server_error_logs_its_traceback_with_the_request_id(
    app: Flask, log_lines: Lines
) -> None:
    def boom() -> str:
        raise RuntimeError("kaboom")

    app.add_url_rule("/test-boom", view_func=boom)
    response = app.test_client().get("/test-boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "boom-1"
    assert "kaboom" not in response.text  # the traceback goes to the log only
    line = next(line for line in log_lines() if line["message"] == "unhandled error")
    assert line["request_id"] == "boom-1" and line["level"] == "ERROR"
    assert isinstance(line["exc_info"], str)
    assert "Traceback" in line["exc_info"] and "RuntimeError: kaboom" in line["exc_info"]


def test_log_lines_are_json_with_the_request_id(make_app: Any, log_lines: Lines) -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # the cache is down
    app.test_client().get("/readyz", headers={"X-Request-ID": "trace-7"})
    logging.getLogger("cbrtl.test").info("after the request")

    lines = log_lines()
    degraded = [line for line in lines if "readiness: cache is degraded" in line["message"]]
    assert len(degraded) == 1
    line = degraded[0]
    assert line["request_id"] == "trace-7"
    assert line["level"] == "WARNING" and line["logger"] == "web.health.views"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    after = next(line for line in lines if line["message"] == "after the request")
    assert "request_id" not in after  # the id ends with its request


def test_a_request_id_follows_the_request_into_its_jobs(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session)
    content = make_content(db_session)
    headers = {**login(client, user.email), "X-Request-ID": "rate-42"}
    response = client.put(
        f"/api/v1/content/{content.id}/rating", json={"score": 4.0}, headers=headers
    )
    assert response.status_code == 200
    job = db_session.scalar(select(Job).where(Job.type == "ratings.recompute_stats"))
    assert job is not None and job.request_id == "rate-42"


def test_no_password_token_or_authorization_in_any_line(
    client: FlaskClient, db_session: Session, log_lines: Lines
) -> None:
    user = make_user(db_session)
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    access, refresh = response.json["access_token"], response.json["refresh_token"]
    client.post("/api/v1/auth/login", json={"email": user.email, "password": "not the password"})
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
    client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {refresh}"})
    client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {refresh}"})  # reuse
    # A careless log call is masked too.
    logging.getLogger("cbrtl.test").warning("calling with Authorization: Bearer %s", access)

    lines = log_lines()
    assert lines, "the requests logged nothing"
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in (PASSWORD, "not the password", access, refresh, user.password_hash):
        assert secret not in text
    assert "Bearer [redacted]" in text
