"""Trending (Redis, database, fallback) and the home page rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from db import trending_cache
from db.cache import make_cache
from db.models import Rating
from db.models.base import utcnow
from db.services import preferences, ratings, trending, viewing
from db.settings import Settings
from tasks.trending import refresh_trending
from tests.auth import login
from tests.factories import make_content, make_user
from tests.services import free_port


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def test_refresh_ranks_recent_activity(db_session: Session) -> None:
    old, hot, cold = (make_content(db_session) for _ in range(3))
    now = utcnow()
    for _ in range(3):  # three ratings of `old`, two days ago: outside the day window
        rater = make_user(db_session)
        db_session.add(
            Rating(user_id=rater.id, content_id=old.id, score=5.0, rated_at=now - timedelta(days=2))
        )
    for _ in range(2):
        ratings.rate(
            session=db_session, user_id=make_user(db_session).id, content_id=hot.id, score=4.0
        )
    viewing.record_progress(
        session=db_session,
        user_id=make_user(db_session).id,
        content_id=cold.id,
        position_s=10,
        completed=False,
    )
    db_session.flush()

    result = refresh_trending(db_session, {})
    assert result["day"] == {"events": 3, "items": 2}
    assert result["week"]["items"] == 3

    assert trending.stored(session=db_session, window="day", limit=10) == [hot.id, cold.id]
    assert trending.stored(session=db_session, window="week", limit=10)[:2] == [hot.id, old.id]


def test_trending_served_from_redis_then_database_then_most_rated(
    make_app: Any, settings: Settings, db_session: Session
) -> None:
    a, b, c = (make_content(db_session) for _ in range(3))
    ratings.rate(session=db_session, user_id=make_user(db_session).id, content_id=c.id, score=3)
    ratings.recompute_stats(session=db_session, content_id=c.id)
    client = make_app().test_client()
    # Nothing computed yet: the most rated stand in.
    assert ids(client.get("/api/v1/trending")) == [c.id]

    trending.store(session=db_session, window="day", ranked=[(b.id, 2.0), (a.id, 1.0)])
    cache = make_cache(settings)
    cache.delete(trending_cache.KEY.format("day"))
    assert ids(client.get("/api/v1/trending?window=day")) == [b.id, a.id]

    trending_cache.write(cache, "day", [a.id, c.id, b.id])
    assert ids(client.get("/api/v1/trending?window=day&limit=2")) == [a.id, c.id]

    down = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    assert ids(down.get("/api/v1/trending?window=day")) == [b.id, a.id]
    cache.delete(trending_cache.KEY.format("day"))


def test_trending_bad_queries(client: FlaskClient) -> None:
    assert client.get("/api/v1/trending?window=year").status_code == 422
    assert client.get("/api/v1/trending?limit=0").status_code == 422
    assert client.get("/api/v1/trending?limit=x").status_code == 422


def test_homepage_rows(client: FlaskClient, db_session: Session) -> None:
    drama = make_content(db_session, genres=["Drama"])
    horror = make_content(db_session, genres=["Horror"])
    anonymous = client.get("/api/v1/homepage").json["rows"]
    keys = [row["key"] for row in anonymous]
    assert "continue_watching" not in keys and "genre:Drama" in keys
    assert [i["id"] for i in next(r for r in anonymous if r["key"] == "genre:Drama")["items"]] == [
        drama.id
    ]

    user = make_user(db_session)
    preferences.set_genres(session=db_session, user_id=user.id, names=["Horror"])
    viewing.record_progress(
        session=db_session, user_id=user.id, content_id=horror.id, position_s=42, completed=False
    )
    viewing.record_progress(
        session=db_session, user_id=user.id, content_id=drama.id, position_s=90, completed=True
    )
    rows = {
        row["key"]: row
        for row in client.get("/api/v1/homepage", headers=login(client, user.email)).json["rows"]
    }
    assert [i["id"] for i in rows["continue_watching"]["items"]] == [horror.id]
    assert "genre:Horror" in rows and "genre:Drama" not in rows


def test_shared_home_rows_are_kept_but_your_rating_is_always_yours(
    make_app: Any, db_session: Session
) -> None:
    client = make_app(home_rows_ttl_s=300).test_client()
    first = make_content(db_session, genres=["Drama"])
    user = make_user(db_session)
    headers = login(client, user.email)

    def drama_row() -> list[dict[str, Any]]:
        rows = client.get("/api/v1/homepage", headers=headers).json["rows"]
        items: list[dict[str, Any]] = next(r for r in rows if r["key"] == "genre:Drama")["items"]
        return items

    assert [(i["id"], i["your_rating"]) for i in drama_row()] == [(first.id, None)]
    # A new title joins the shared row only when the row is rebuilt (after the TTL)...
    make_content(db_session, genres=["Drama"])
    ratings.rate(session=db_session, user_id=user.id, content_id=first.id, score=4.5)
    db_session.flush()
    # ...but the viewer's own rating shows at once.
    assert [(i["id"], i["your_rating"]) for i in drama_row()] == [(first.id, 4.5)]
    fresh = make_app(home_rows_ttl_s=0).test_client()
    rows = fresh.get("/api/v1/homepage", headers=login(fresh, user.email)).json["rows"]
    assert len(next(r for r in rows if r["key"] == "genre:Drama")["items"]) == 2
