"""A token verified once per process (web/auth/verified.py) is still refused once it
expires, and signing out still ends it at once."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt as pyjwt
from flask import Flask
from flask_jwt_extended import create_access_token
from sqlalchemy.orm import Session

from tests.auth import login
from tests.factories import make_user


def test_a_remembered_token_is_refused_once_it_expires(app: Flask, db_session: Session) -> None:
    user = make_user(db_session)
    client = app.test_client(use_cookies=False)
    good = login(client, user.email)["Authorization"].removeprefix("Bearer ")
    family = pyjwt.decode(good, options={"verify_signature": False})["fam"]
    with app.app_context():
        short = create_access_token(
            identity=str(user.id),
            additional_claims={"roles": ["user"], "fam": family},
            expires_delta=timedelta(seconds=2),
        )
    headers = {"Authorization": f"Bearer {short}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # remembered
    deadline = time.monotonic() + 10
    status = 200
    while status == 200 and time.monotonic() < deadline:
        status = client.get("/api/v1/me", headers=headers).status_code
    assert status == 401
    refused = client.get("/api/v1/me", headers=headers).json
    assert refused["error"]["message"] == "The token has expired."


def test_signing_out_ends_a_remembered_token(app: Flask, db_session: Session) -> None:
    user = make_user(db_session)
    client = app.test_client(use_cookies=False)
    headers = login(client, user.email)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code in (200, 204)
    assert client.get("/api/v1/me", headers=headers).status_code == 401
