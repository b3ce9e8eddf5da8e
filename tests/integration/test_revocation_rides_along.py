"""A safe request's revocation check rides in its first Redis read (web/auth/revocation.py)
and still ends a signed-out session at once: with Redis up, down, and on every read
path (a cached list, a title, the home page, a view that reads no Redis at all);
pages still treat a revoked cookie as signed out."""

from __future__ import annotations

from typing import Any

import jwt as pyjwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from db import recs_cache
from db.blocklist import Blocklist
from db.services import sessions
from tests.auth import login
from tests.factories import PASSWORD, make_content, make_user
from tests.services import free_port
from web.runtime import runtime

ENDED = "This session has ended; sign in again."
HTML = {"Accept": "text/html,application/xhtml+xml"}


def signed_in_with_list(app: Flask, db_session: Session) -> tuple[dict[str, str], list[int]]:
    viewer = make_user(db_session)
    items = [make_content(db_session).id for _ in range(3)]
    db_session.commit()
    headers = login(app.test_client(use_cookies=False), viewer.email)
    doc = {"model_version": 3, "generated_at": "2026-12-01T00:00:00+00:00",
           "items": [[i, 4.0, "Because you liked X"] for i in items]}  # fmt: skip
    with app.app_context():
        recs_cache.write_many(runtime().cache, {viewer.id: doc})
    return headers, items


def paths(items: list[int]) -> list[str]:
    return ["/api/v1/recommendations", f"/api/v1/content/{items[0]}", "/api/v1/homepage",
            "/api/v1/me"]  # fmt: skip


def lookups_counted(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The families looked up on their own (not riding in a read)."""
    calls: list[str] = []
    blocklist = app.extensions["cbrtl"].blocklist
    original = Blocklist.is_revoked

    def counted(family_id: str) -> bool:
        calls.append(family_id)
        return original(blocklist, family_id)

    monkeypatch.setattr(blocklist, "is_revoked", counted)
    return calls


def test_reads_carry_the_check_and_a_signed_out_token_is_refused_everywhere(
    app: Flask, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers, items = signed_in_with_list(app, db_session)
    client: FlaskClient = app.test_client(use_cookies=False)
    lookups = lookups_counted(app, monkeypatch)
    for path in paths(items)[:2]:  # both read Redis: no lookup of their own
        assert client.get(path, headers=headers).status_code == 200, path
    assert lookups == []
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert len(lookups) == 1  # no Redis read to ride in: settled after the view

    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    for path in paths(items):
        refused = client.get(path, headers=headers)
        assert refused.status_code == 401, path
        assert refused.json["error"]["message"] == ENDED
        assert refused.headers["X-Content-Type-Options"] == "nosniff"  # every hook ran
    rated = client.put(f"/api/v1/content/{items[0]}/rating", json={"score": 4}, headers=headers)
    assert rated.status_code == 401  # a write is checked before its view


def test_with_redis_down_the_database_still_ends_the_session(
    make_app: Any, db_session: Session
) -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    viewer = make_user(db_session)
    item = make_content(db_session)
    db_session.commit()
    client = app.test_client(use_cookies=False)
    headers = login(client, viewer.email)
    assert client.get(f"/api/v1/content/{item.id}", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    for path in (f"/api/v1/content/{item.id}", "/api/v1/recommendations", "/api/v1/me"):
        refused = client.get(path, headers=headers)
        assert refused.status_code == 401, path
        assert refused.json["error"]["message"] == ENDED


def test_a_page_still_treats_a_revoked_cookie_as_signed_out(
    app: Flask, db_session: Session
) -> None:
    viewer = make_user(db_session)
    db_session.commit()
    browser = app.test_client()  # cookies, as a browser keeps them
    signed = browser.post("/api/v1/auth/login", json={"email": viewer.email, "password": PASSWORD})
    assert signed.status_code == 200
    family = pyjwt.decode(signed.json["access_token"], options={"verify_signature": False})["fam"]
    assert browser.get("/profile", headers=HTML).status_code == 200
    # Ended elsewhere (another device's "sign out"): this browser still holds the cookies.
    sessions.revoke(session=db_session, family_id=family, reason="test")
    db_session.commit()
    with app.app_context():
        runtime().blocklist.add([family])
    gone = browser.get("/profile", headers=HTML)
    # Signed out, so the page's script tries the refresh cookie (which is revoked too).
    assert gone.status_code == 200 and "Signing you back in" in gone.get_data(as_text=True)
    assert browser.get("/api/v1/me").status_code == 401  # the API, from the same cookie
