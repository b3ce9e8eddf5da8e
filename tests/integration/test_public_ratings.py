"""GET /content/{id}/ratings: who rated a title and how, newest first, names only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Connection, event, update
from sqlalchemy.orm import Session

from db.models import ContentStats, Rating
from db.models.base import utcnow
from db.services import ratings
from tests.factories import make_content, make_user


def _rate_at(session: Session, user_id: int, content_id: int, score: float, age_s: int) -> None:
    ratings.rate(session=session, user_id=user_id, content_id=content_id, score=score)
    session.execute(
        update(Rating)
        .where(Rating.user_id == user_id, Rating.content_id == content_id)
        .values(rated_at=utcnow() - timedelta(seconds=age_s))
    )


def test_ratings_are_listed_newest_first_with_names_only(
    client: FlaskClient, db_session: Session
) -> None:
    title = make_content(db_session)
    other = make_content(db_session)
    viewers = [make_user(db_session) for _ in range(5)]
    for age, (viewer, score) in enumerate(zip(viewers, [4.5, 3.0, 5.0, 0.5, 2.5], strict=True)):
        _rate_at(db_session, viewer.id, title.id, score, age_s=100 * (age + 1))
    _rate_at(db_session, viewers[0].id, other.id, 1.0, age_s=1)
    db_session.commit()

    first = client.get(f"/api/v1/content/{title.id}/ratings?per_page=2")
    assert first.status_code == 200, first.json
    body = first.json
    assert (body["page"], body["per_page"], body["total"]) == (1, 2, 5)
    assert [(r["display_name"], r["score"]) for r in body["items"]] == [
        (viewers[0].display_name, 4.5),
        (viewers[1].display_name, 3.0),
    ]
    assert set(body["items"][0]) == {"display_name", "score", "rated_at"}
    assert viewers[0].email not in first.get_data(as_text=True)

    pages = [
        client.get(f"/api/v1/content/{title.id}/ratings?per_page=2&page={n}").json["items"]
        for n in (1, 2, 3)
    ]
    seen = [r["score"] for page in pages for r in page]
    assert seen == [4.5, 3.0, 5.0, 0.5, 2.5]
    stamps = [r["rated_at"] for page in pages for r in page]
    assert stamps == sorted(stamps, reverse=True)


def test_a_new_rating_comes_first_and_a_removed_one_leaves(
    client: FlaskClient, db_session: Session
) -> None:
    title = make_content(db_session)
    old, new = make_user(db_session), make_user(db_session)
    _rate_at(db_session, old.id, title.id, 3.0, age_s=60)
    ratings.rate(session=db_session, user_id=new.id, content_id=title.id, score=4.0)
    db_session.commit()
    names = [
        r["display_name"] for r in client.get(f"/api/v1/content/{title.id}/ratings").json["items"]
    ]
    assert names == [new.display_name, old.display_name]

    ratings.unrate(session=db_session, user_id=new.id, content_id=title.id)
    db_session.commit()
    listed = client.get(f"/api/v1/content/{title.id}/ratings").json
    assert [r["display_name"] for r in listed["items"]] == [old.display_name]
    assert listed["total"] == 1


def test_unknown_title_and_bad_paging(client: FlaskClient, db_session: Session) -> None:
    title = make_content(db_session)
    db_session.commit()
    missing = client.get("/api/v1/content/987654321/ratings")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"
    empty = client.get(f"/api/v1/content/{title.id}/ratings")
    assert empty.json == {"items": [], "page": 1, "per_page": 20, "total": 0}
    for query in ("per_page=0", "per_page=101", "page=0", "page=x"):
        bad = client.get(f"/api/v1/content/{title.id}/ratings?{query}")
        assert bad.status_code == 422, (query, bad.json)


def test_the_listing_walks_the_index_without_sorting(
    connection: Connection, db_session: Session
) -> None:
    """At scale a title has many ratings: the page must come off the (content_id,
    rated_at DESC) index in order, not from sorting them all."""
    title = make_content(db_session)
    db_session.commit()
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "ORDER BY" in statement:
            seen.append((statement, params))

    event.listen(connection, "before_cursor_execute", capture)
    try:
        ratings.list_for_content(session=db_session, content_id=title.id, page=3, per_page=20)
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    assert len(seen) == 1
    statement, params = seen[0]
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", params))
    assert "ix_ratings_content_rated_at" in plan, plan
    assert "Sort" not in plan, plan


def test_a_much_rated_title_totals_from_its_stats(client: FlaskClient, db_session: Session) -> None:
    title = make_content(db_session)
    for viewer in (make_user(db_session), make_user(db_session)):
        ratings.rate(session=db_session, user_id=viewer.id, content_id=title.id, score=4.0)
    many = ratings.EXACT_TOTAL_BELOW + 5  # as the stats drain would have counted them
    db_session.execute(
        update(ContentStats).where(ContentStats.content_id == title.id).values(rating_count=many)
    )
    db_session.commit()
    listed = client.get(f"/api/v1/content/{title.id}/ratings").json
    assert listed["total"] == many  # not a count over the rows
    assert len(listed["items"]) == 2
