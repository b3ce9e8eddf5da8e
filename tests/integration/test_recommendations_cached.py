"""A cached list is served without a database query, and still never shows a title
the viewer rated: not one rated since the list was written, nor one rated before a
list a retrain scored earlier and published later (db/read_models/recent_ratings.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis.connection import AbstractConnection
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from db import recs_cache
from db.models import ContentStats
from tests.auth import login
from tests.factories import make_content, make_user
from web.runtime import runtime


def cache_list(app: Flask, user_id: int, ids: list[int]) -> None:
    with app.app_context():
        doc = {
            "model_version": 7,
            "generated_at": "2026-12-01T00:00:00+00:00",
            "items": [[i, 5.0 - n / 10, "Because you liked X"] for n, i in enumerate(ids)],
        }
        recs_cache.write_many(runtime().cache, {user_id: doc})


def listed(client: FlaskClient, headers: dict[str, str], limit: int = 20) -> list[int]:
    response = client.get(f"/api/v1/recommendations?limit={limit}", headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["model_version"] == 7
    return [item["content"]["id"] for item in response.json["items"]]


def test_a_rating_hides_the_title_at_once_and_its_deletion_shows_it_again(
    app: Flask, client: FlaskClient, db_session: Session
) -> None:
    viewer = make_user(db_session)
    items = [make_content(db_session).id for _ in range(6)]
    db_session.commit()
    headers = login(client, viewer.email)
    cache_list(app, viewer.id, items)
    assert listed(client, headers, 4) == items[:4]
    rated = client.put(f"/api/v1/content/{items[1]}/rating", json={"score": 4}, headers=headers)
    assert rated.status_code == 200
    assert listed(client, headers, 4) == [items[0], items[2], items[3], items[4]]
    # A list scored before that rating and published after it (a long retrain).
    cache_list(app, viewer.id, items)
    assert items[1] not in listed(client, headers)
    assert client.delete(f"/api/v1/content/{items[1]}/rating", headers=headers).status_code == 204
    assert listed(client, headers, 4) == items[:4]


def test_a_cached_list_costs_no_query(make_app: Any, db_session: Session) -> None:
    # New titles are kept per process as in production (the test default is 0).
    app = make_app(home_rows_ttl_s=30)
    client = app.test_client()
    viewer = make_user(db_session)
    items = [make_content(db_session).id for _ in range(3)]
    db_session.commit()
    headers = login(client, viewer.email)
    cache_list(app, viewer.id, items)
    listed(client, headers)  # documents and the new-title slot are read once
    statements: list[str] = []
    bind = db_session.get_bind()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(bind, "before_cursor_execute", count)
    try:
        assert listed(client, headers) == items
    finally:
        event.remove(bind, "before_cursor_execute", count)
    assert statements == []


def test_without_redis_the_database_hides_rated_titles(make_app: Any, db_session: Session) -> None:
    client = make_app(redis_url="redis://127.0.0.1:1/0").test_client()
    viewer = make_user(db_session)
    item = make_content(db_session)
    headers = login(client, viewer.email)
    assert (
        client.put(
            f"/api/v1/content/{item.id}/rating", json={"score": 3}, headers=headers
        ).status_code
        == 200
    )
    shown = client.get("/api/v1/recommendations", headers=headers).json["items"]
    assert item.id not in [i["content"]["id"] for i in shown]


def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per request sent to Redis (a pipeline sends its commands in one)."""
    sent: list[int] = []
    original = AbstractConnection.send_packed_command

    def counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sent.append(1)
        original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sent


def test_a_cached_list_costs_one_redis_round_trip_even_past_rated_titles(
    make_app: Any, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(home_rows_ttl_s=30)
    client = app.test_client()
    viewer = make_user(db_session)
    items = [make_content(db_session).id for _ in range(8)]
    # Rated by others: not new titles, whose documents the read fetches anyway.
    db_session.execute(
        update(ContentStats).where(ContentStats.content_id.in_(items)).values(rating_count=1)
    )
    db_session.commit()
    headers = login(client, viewer.email)
    for rated in items[:3]:  # rated since the list was written
        response = client.put(f"/api/v1/content/{rated}/rating", json={"score": 2}, headers=headers)
        assert response.status_code == 200
    cache_list(app, viewer.id, [*items[:2], items[0], *items[2:]])  # with a repeat
    assert listed(client, headers, 3) == items[3:6]  # documents are stored
    sent = round_trips(monkeypatch)
    assert listed(client, headers, 3) == items[3:6]
    assert len(sent) == 1


def test_flushed_scripts_and_documents_are_read_again(
    app: Flask, client: FlaskClient, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = make_user(db_session)
    items = [make_content(db_session).id for _ in range(4)]
    db_session.commit()
    headers = login(client, viewer.email)
    cache_list(app, viewer.id, items)
    assert listed(client, headers, 4) == items
    with app.app_context():
        cache = runtime().cache
        assert cache is not None
        cache.script_flush()
        cache.delete(*runtime().titles.keys(items))  # documents and generations
    sent = round_trips(monkeypatch)
    assert listed(client, headers, 4) == items
    assert len(sent) > 1  # the script loaded again, the documents built and stored
