"""Catalogue listing, search, filters, sorts, pagination and edit rights (PostgreSQL)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Content, Rating
from db.services import ratings
from tests.auth import login
from tests.factories import make_content, make_user


def titles(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [item["title"] for item in response.json["items"]]


def rate_all(session: Session, item: Content, scores: list[float]) -> None:
    for score in scores:
        ratings.rate(
            session=session, user_id=make_user(session).id, content_id=item.id, score=score
        )
    ratings.recompute_stats(session=session, content_id=item.id)


def test_search_is_case_insensitive_and_literal(client: FlaskClient, db_session: Session) -> None:
    make_content(db_session, title="The Matrix")
    make_content(db_session, title="Matrix Reloaded")
    make_content(db_session, title="100% Pure")
    make_content(db_session, title="Heat")
    assert sorted(titles(client.get("/api/v1/content?q=mAtRiX"))) == [
        "Matrix Reloaded",
        "The Matrix",
    ]
    assert titles(client.get("/api/v1/content?q=100%25")) == ["100% Pure"]
    assert titles(client.get("/api/v1/content?q=%25")) == ["100% Pure"]  # % is not a wildcard
    assert titles(client.get("/api/v1/content?q=_")) == []


def test_genre_filter(client: FlaskClient, db_session: Session) -> None:
    make_content(db_session, title="Alien", genres=["Sci-Fi", "Horror"])
    make_content(db_session, title="Heat", genres=["Crime"])
    assert titles(client.get("/api/v1/content?genre=horror")) == ["Alien"]
    unknown = client.get("/api/v1/content?genre=Polka")
    assert unknown.status_code == 422 and "Polka" in unknown.json["error"]["details"]["genres"]


def test_sorts_and_pagination(client: FlaskClient, db_session: Session) -> None:
    loved = make_content(db_session, title="Loved")  # few, high ratings
    popular = make_content(db_session, title="Popular")  # many, middling
    unrated = make_content(db_session, title="Unrated")
    newest = make_content(db_session, title="Newest")
    rate_all(db_session, loved, [5.0, 5.0])
    rate_all(db_session, popular, [3.0, 3.5, 4.0, 3.5, 3.0, 4.0])
    rate_all(db_session, newest, [1.0])

    popular_order = titles(client.get("/api/v1/content?sort=popular"))
    assert popular_order[0] == "Popular" and popular_order[-1] == "Unrated"
    rating_order = titles(client.get("/api/v1/content?sort=rating"))
    assert rating_order[0] == "Loved" and rating_order[-1] == "Unrated"
    assert titles(client.get("/api/v1/content?sort=newest"))[0] == "Newest"

    page = client.get("/api/v1/content?sort=popular&per_page=2&page=2").json
    assert page["total"] == 4 and page["page"] == 2 and page["per_page"] == 2
    assert [i["title"] for i in page["items"]] == popular_order[2:4]
    assert unrated.id in {i["id"] for i in client.get("/api/v1/content").json["items"]}


def test_bad_list_queries_are_422(client: FlaskClient) -> None:
    for query in ("page=abc", "per_page=500", "sort=random", "q=", "page=-1"):
        response = client.get(f"/api/v1/content?{query}")
        assert response.status_code == 422, query


def test_list_shows_your_ratings(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    ratings.rate(session=db_session, user_id=user.id, content_id=item.id, score=4.5)
    response = client.get("/api/v1/content", headers=login(client, user.email))
    assert [(i["id"], i["your_rating"]) for i in response.json["items"]] == [(item.id, 4.5)]


def test_only_owner_or_admin_edit_and_delete(client: FlaskClient, db_session: Session) -> None:
    owner = make_user(db_session, roles=("creator",))
    stranger = make_user(db_session, roles=("creator",))
    admin = make_user(db_session, roles=("admin",))
    item = make_content(db_session, owner=owner, title="Draft")
    fan = make_user(db_session)
    ratings.rate(session=db_session, user_id=fan.id, content_id=item.id, score=3)

    denied = client.patch(
        f"/api/v1/content/{item.id}",
        json={"title": "Mine now"},
        headers=login(client, stranger.email),
    )
    assert denied.status_code == 403
    changed = client.patch(
        f"/api/v1/content/{item.id}",
        json={"title": "Final", "genres": ["Comedy"], "release_year": None},
        headers=login(client, owner.email),
    )
    assert changed.status_code == 200
    assert (changed.json["title"], changed.json["genres"]) == ("Final", ["Comedy"])
    bad = client.patch(
        f"/api/v1/content/{item.id}", json={"genres": ["Polka"]}, headers=login(client, owner.email)
    )
    assert bad.status_code == 422

    assert (
        client.delete(
            f"/api/v1/content/{item.id}", headers=login(client, stranger.email)
        ).status_code
        == 403
    )
    assert (
        client.delete(f"/api/v1/content/{item.id}", headers=login(client, admin.email)).status_code
        == 204
    )
    assert client.get(f"/api/v1/content/{item.id}").status_code == 404
    assert db_session.scalars(select(Rating).where(Rating.content_id == item.id)).all() == []
    assert (
        client.delete(f"/api/v1/content/{item.id}", headers=login(client, admin.email)).status_code
        == 404
    )
