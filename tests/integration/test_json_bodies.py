"""Hostile JSON bodies: every endpoint answers 400 or 422 in the contract's shape, never 500."""

from __future__ import annotations

import logging

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.auth import login
from tests.factories import make_content, make_user

HUGE_INT = "1" + "0" * 5000
DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000


def post_raw(client: FlaskClient, path: str, body: str) -> TestResponse:
    return client.post(path, data=body, content_type="application/json")


@pytest.mark.parametrize(
    "body", [DEEP_ARRAY, DEEP_OBJECT, '{"email": ' + "[" * 40 + "]" * 40 + "}"]
)
def test_deep_nesting_on_login_is_a_bad_request(
    client: FlaskClient, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = post_raw(client, "/api/v1/auth/login", body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == "bad_request"
    assert "nested" in response.json["error"]["message"]
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_no_field_can_hold_are_out_of_range(client: FlaskClient, literal: str) -> None:
    response = post_raw(
        client, "/api/v1/auth/login", f'{{"email": "a@example.org", "password": {literal}}}'
    )
    assert response.status_code == 422, response.json
    assert response.json["error"]["details"] == {"password": "number out of range"}


@pytest.mark.parametrize("score", [HUGE_INT, "-" + HUGE_INT, "1e400", "1" + "0" * 40])
def test_a_huge_score_is_out_of_range(
    client: FlaskClient, db_session: Session, score: str, caplog: pytest.LogCaptureFixture
) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    headers = login(client, user.email)
    with caplog.at_level(logging.ERROR):
        response = client.put(
            f"/api/v1/content/{item.id}/rating",
            data=f'{{"score": {score}}}',
            content_type="application/json",
            headers=headers,
        )
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "validation_error"
    assert "score" in response.json["error"]["details"]
    assert not [r for r in caplog.records if r.exc_info]


def test_a_huge_number_deep_in_free_form_params_is_out_of_range(
    client: FlaskClient, db_session: Session
) -> None:
    admin = make_user(db_session, roles=("admin",))
    response = client.post(
        "/api/v1/admin/retrain",
        data=f'{{"params": {{"factors": [1, {HUGE_INT}]}}}}',
        content_type="application/json",
        headers=login(client, admin.email),
    )
    assert response.status_code == 422, response.json
    assert response.json["error"]["details"] == {"params.factors.1": "number out of range"}


def test_ordinary_bodies_still_parse(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    headers = login(client, user.email)
    nested = client.put(
        f"/api/v1/content/{item.id}/rating",
        json={"score": 4.5},
        headers=headers,
    )
    assert nested.status_code == 200, nested.json
    broken = post_raw(client, "/api/v1/auth/login", '{"email": ')
    assert broken.status_code == 400
    assert broken.json["error"]["message"] == "The request body is not valid JSON."
