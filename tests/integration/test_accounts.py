"""Accounts and sessions the way an attacker would try them (PostgreSQL + Redis)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import jwt as pyjwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token
from sqlalchemy.orm import Session

from db.models import UserRole
from tests.auth import login
from tests.factories import PASSWORD, make_content, make_user

NEW_PASSWORD = "a different long passphrase"


def tokens(client: FlaskClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.json
    return response.json


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_client(app: Flask) -> FlaskClient:
    """A client that does not keep cookies, like an API client."""
    return app.test_client(use_cookies=False)


@pytest.fixture(params=["redis", "database"])
def blocklist_app(request: pytest.FixtureRequest, make_app: Any) -> Flask:
    """Revocation with the blocklist in Redis, and in the database (no Redis configured)."""
    return make_app() if request.param == "redis" else make_app(redis_url=None)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1", "at least 10"),
        ("x" * 129, "at most 128"),
        ("aaaaabbbbbbb", "different characters"),
        ("password123", "most common"),
        ("mallory-is-here", "email"),
    ],
)
def test_weak_passwords_are_refused(client: FlaskClient, password: str, reason: str) -> None:
    body = {"email": "mallory@example.org", "password": password, "display_name": "M"}
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert reason in response.json["error"]["details"]["password"]


def test_refresh_rotates_and_reuse_revokes_the_family(
    blocklist_app: Flask, db_session: Session
) -> None:
    client = api_client(blocklist_app)
    user = make_user(db_session)
    first = tokens(client, user.email)

    second = client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"]))
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(second.json["access_token"])).status_code == 200

    # The first refresh token comes back: someone copied it. The whole family dies.
    reused = client.post("/api/v1/auth/refresh", headers=bearer(first["refresh_token"]))
    assert reused.status_code == 401
    for token in (second.json["access_token"], first["access_token"]):
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    again = client.post("/api/v1/auth/refresh", headers=bearer(second.json["refresh_token"]))
    assert again.status_code == 401

    # Another sign-in of the same user is a different family and is untouched.
    assert client.get("/api/v1/me", headers=login(client, user.email)).status_code == 200


def test_access_token_cannot_refresh(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    pair = tokens(client, user.email)
    response = api_client(client.application).post(
        "/api/v1/auth/refresh", headers=bearer(pair["access_token"])
    )
    assert response.status_code == 401


def test_logout_revokes_access_and_refresh(blocklist_app: Flask, db_session: Session) -> None:
    client = api_client(blocklist_app)
    user = make_user(db_session)
    pair = tokens(client, user.email)
    other = tokens(client, user.email)
    assert (
        client.post("/api/v1/auth/logout", headers=bearer(pair["access_token"])).status_code == 204
    )
    assert client.get("/api/v1/me", headers=bearer(pair["access_token"])).status_code == 401
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert refreshed.status_code == 401
    # Only that session ended.
    assert client.get("/api/v1/me", headers=bearer(other["access_token"])).status_code == 200


def test_password_change_signs_out_other_sessions(
    blocklist_app: Flask, db_session: Session
) -> None:
    client = api_client(blocklist_app)
    user = make_user(db_session)
    here = tokens(client, user.email)
    elsewhere = tokens(client, user.email)

    wrong = client.put(
        "/api/v1/me/password",
        json={"current_password": "not it at all", "new_password": NEW_PASSWORD},
        headers=bearer(here["access_token"]),
    )
    assert wrong.status_code == 422 and "current_password" in wrong.json["error"]["details"]
    weak = client.put(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=bearer(here["access_token"]),
    )
    assert weak.status_code == 422 and "password" in weak.json["error"]["details"]

    changed = client.put(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(here["access_token"]),
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/me", headers=bearer(here["access_token"])).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(elsewhere["access_token"])).status_code == 401
    assert (
        client.post("/api/v1/auth/refresh", headers=bearer(elsewhere["refresh_token"])).status_code
        == 401
    )
    old = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert old.status_code == 401
    assert tokens(client, user.email, NEW_PASSWORD)["access_token"]


def forged_tokens(app: Flask, user_id: int, good: str) -> dict[str, str]:
    header, _payload, signature = good.split(".")
    claims = pyjwt.decode(good, options={"verify_signature": False})
    with app.app_context():
        expired = create_access_token(
            identity=str(user_id),
            additional_claims={"roles": ["user"], "fam": claims["fam"]},
            expires_delta=timedelta(seconds=-30),
        )
    other_key = pyjwt.encode({**claims, "roles": ["admin"]}, "another-key-" * 4, algorithm="HS256")
    unsigned = pyjwt.encode({**claims, "roles": ["admin"]}, None, algorithm="none")
    tampered_payload = pyjwt.utils.base64url_encode(
        pyjwt.api_jws.json.dumps({**claims, "roles": ["admin"]}).encode()
    ).decode()
    return {
        "expired": expired,
        "other key": other_key,
        "alg none": unsigned,
        "tampered payload": f"{header}.{tampered_payload}.{signature}",
        "garbage": "not.a.token",
    }


def test_forged_tokens_are_refused(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    good = tokens(client, user.email)["access_token"]
    api = api_client(client.application)
    assert api.get("/api/v1/me", headers=bearer(good)).status_code == 200
    for name, token in forged_tokens(client.application, user.id, good).items():
        response = api.get("/api/v1/jobs", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.json["error"]["code"] == "unauthorized", name


def test_roles_are_enforced_and_change_on_refresh(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    api = api_client(client.application)
    pair = tokens(api, user.email)
    denied = api.get("/api/v1/jobs", headers=bearer(pair["access_token"]))
    assert denied.status_code == 403 and denied.json["error"]["code"] == "forbidden"

    user.role_rows.append(UserRole(role="ops"))
    db_session.commit()
    # The old token still carries the old roles ...
    assert api.get("/api/v1/jobs", headers=bearer(pair["access_token"])).status_code == 403
    # ... the next refresh carries the new ones.
    fresh = api.post("/api/v1/auth/refresh", headers=bearer(pair["refresh_token"])).json
    allowed = api.get("/api/v1/jobs", headers=bearer(fresh["access_token"]))
    assert allowed.status_code == 200 and "items" in allowed.json


def test_login_failures_per_account_are_rate_limited(make_app: Any, db_session: Session) -> None:
    client = api_client(make_app(rate_limit_login_account="3 per minute"))
    user = make_user(db_session)
    for _ in range(3):
        wrong = {"email": user.email, "password": "not the password"}
        assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
    blocked = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json["error"]["code"] == "rate_limited"
    assert int(blocked.headers["Retry-After"]) > 0
    # Another account from the same address is not locked out.
    other = make_user(db_session)
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": other.email, "password": PASSWORD}
        ).status_code
        == 200
    )


def test_successful_logins_do_not_count_against_the_account(
    make_app: Any, db_session: Session
) -> None:
    client = api_client(make_app(rate_limit_login_account="2 per minute"))
    user = make_user(db_session)
    for _ in range(4):
        assert tokens(client, user.email)


def test_login_and_register_per_ip_are_rate_limited(make_app: Any) -> None:
    client = api_client(
        make_app(rate_limit_login_ip="2 per minute", rate_limit_register_ip="1 per hour")
    )
    wrong = {"email": "who@example.org", "password": "not the password"}
    statuses = [client.post("/api/v1/auth/login", json=wrong).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    body = {"email": "a@example.org", "password": "a long enough pass", "display_name": "A"}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    second = client.post("/api/v1/auth/register", json={**body, "email": "b@example.org"})
    assert second.status_code == 429 and "Retry-After" in second.headers


def test_browser_session_uses_cookies_with_csrf(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    cookies = response.headers.getlist("Set-Cookie")
    access_cookie = next(c for c in cookies if c.startswith("access_token_cookie="))
    assert "HttpOnly" in access_cookie and "SameSite=Lax" in access_cookie
    csrf_cookie = next(c for c in cookies if c.startswith("csrf_access_token="))
    assert "HttpOnly" not in csrf_cookie

    assert client.get("/api/v1/me").status_code == 200  # reads need no CSRF token
    rate = {"json": {"score": 4}}
    no_csrf = client.put(f"/api/v1/content/{item.id}/rating", **rate)
    assert no_csrf.status_code == 401
    csrf = client.get_cookie("csrf_access_token").value
    with_csrf = client.put(
        f"/api/v1/content/{item.id}/rating", headers={"X-CSRF-TOKEN": csrf}, **rate
    )
    assert with_csrf.status_code == 200

    out = client.post("/api/v1/auth/logout", headers={"X-CSRF-TOKEN": csrf})
    assert out.status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    for response in (
        client.get("/healthz"),
        client.get("/api/v1/nothing"),
        client.get("/api/v1/me"),
    ):
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_cors_is_off_unless_configured(make_app: Any) -> None:
    origin = {"Origin": "https://other.example"}
    closed = make_app().test_client().get("/api/v1/genres", headers=origin)
    assert "Access-Control-Allow-Origin" not in closed.headers
    opened = make_app(cors_origins="https://other.example").test_client()
    response = opened.get("/api/v1/genres", headers=origin)
    assert response.headers["Access-Control-Allow-Origin"] == "https://other.example"
    stranger = opened.get("/api/v1/genres", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_profile_preferences_and_history(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    seen, rated = make_content(db_session), make_content(db_session)
    headers = login(api_client(client.application), user.email)
    api = api_client(client.application)

    patched = api.patch("/api/v1/me", json={"display_name": "Renamed"}, headers=headers)
    assert patched.status_code == 200 and patched.json["display_name"] == "Renamed"
    assert api.patch("/api/v1/me", json={"display_name": ""}, headers=headers).status_code == 422
    assert api.patch("/api/v1/me", json={"email": "x@y.z"}, headers=headers).status_code == 422

    assert api.get("/api/v1/me/preferences", headers=headers).json == {"genres": []}
    put = api.put("/api/v1/me/preferences", json={"genres": ["drama", "Comedy"]}, headers=headers)
    assert put.status_code == 200 and put.json == {"genres": ["Comedy", "Drama"]}
    bad = api.put("/api/v1/me/preferences", json={"genres": ["Polka"]}, headers=headers)
    assert bad.status_code == 422 and "Polka" in bad.json["error"]["details"]["genres"]
    assert api.get("/api/v1/me/preferences", headers=headers).json == {
        "genres": ["Comedy", "Drama"]
    }

    for item, position in ((seen, 120.5), (rated, 30.0)):
        done = api.post(
            f"/api/v1/content/{item.id}/progress", json={"position_s": position}, headers=headers
        )
        assert done.status_code == 204
    api.put(f"/api/v1/content/{rated.id}/rating", json={"score": 3.5}, headers=headers)
    negative = api.post(
        f"/api/v1/content/{seen.id}/progress", json={"position_s": -1}, headers=headers
    )
    assert negative.status_code == 422

    page = api.get("/api/v1/me/history?per_page=1", headers=headers).json
    assert page["total"] == 2 and page["per_page"] == 1 and len(page["items"]) == 1
    assert page["items"][0]["content"]["id"] == rated.id
    assert page["items"][0]["your_rating"] == 3.5
    assert page["items"][0]["position_s"] == 30.0
    for query in ("page=abc", "per_page=0", "per_page=101", "page=0"):
        assert api.get(f"/api/v1/me/history?{query}", headers=headers).status_code == 422


def test_no_secret_reaches_the_logs(
    client: FlaskClient, db_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = make_user(db_session)
    pair = tokens(client, user.email)
    client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong guess here"})
    client.post("/api/v1/auth/refresh", headers=bearer(pair["refresh_token"]))
    client.post("/api/v1/auth/refresh", headers=bearer(pair["refresh_token"]))
    logged = caplog.text
    for secret in (PASSWORD, "wrong guess here", pair["access_token"], pair["refresh_token"]):
        assert secret not in logged
    assert user.password_hash not in logged
