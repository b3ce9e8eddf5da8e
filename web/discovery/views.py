"""Discovery: trending and the home page rows (recommendations join with the recommender)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from db import trending_cache
from db.models import Content
from db.services import content as catalogue
from db.services import preferences, ratings, trending, viewing
from web.auth.roles import optional_user_id
from web.blueprint import Blueprint
from web.content.presenters import content_document
from web.content.schemas import ContentOut
from web.discovery.recommendations import recommendations
from web.discovery.shared_rows import Documents, shared_rows
from web.input import InputSchema
from web.runtime import db_session, runtime

blp = Blueprint("discovery", __name__, description="Discovery")

ROW_LENGTH = 20
GENRE_ROWS = 4
DEFAULT_GENRES = ("Drama", "Comedy", "Action", "Thriller")


class TrendingQuery(InputSchema):
    window = fields.String(load_default="day", validate=validate.OneOf(sorted(trending.WINDOWS)))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ItemsOut(Schema):
    items = fields.List(fields.Nested(ContentOut))


class RowItemOut(ContentOut):
    reason = fields.String(metadata={"description": "Why it is recommended (recommended row)"})


class RowOut(Schema):
    key = fields.String()
    title = fields.String()
    items = fields.List(fields.Nested(RowItemOut))


class HomepageOut(Schema):
    rows = fields.List(fields.Nested(RowOut))


def trending_contents(session: Session, window: str, limit: int) -> list[Content]:
    """Redis first, then the stored list, then the most rated (before the first run)."""
    ids = trending_cache.read(runtime().cache, window)
    if ids is None:
        ids = trending.stored(session=session, window=window, limit=limit)
    if not ids:
        ids = trending.most_rated(session=session, limit=limit)
    return trending.contents_in_order(session=session, ids=ids[:limit])


def documents(session: Session, items: list[Content], user_id: int | None) -> list[dict[str, Any]]:
    mine = (
        ratings.scores_for(session=session, user_id=user_id, content_ids=[c.id for c in items])
        if user_id is not None
        else {}
    )
    return [content_document(c, your_rating=mine.get(c.id)) for c in items]


@blp.get("/trending")
@blp.arguments(TrendingQuery, location="query")
@blp.response(200, ItemsOut)
def get_trending(args: dict[str, Any]) -> dict[str, Any]:
    session = db_session()
    items = trending_contents(session, args["window"], args["limit"])
    return {"items": documents(session, items, optional_user_id())}


def _with_my_ratings(
    session: Session, rows: list[tuple[str, str, Documents]], user_id: int | None
) -> list[tuple[str, str, Documents]]:
    """Shared rows carry no viewer's rating: one query lays this viewer's over all of them."""
    if user_id is None:
        return rows
    ids = {doc["id"] for _, _, docs in rows for doc in docs}
    mine = ratings.scores_for(session=session, user_id=user_id, content_ids=sorted(ids))
    return [
        (key, title, [{**doc, "your_rating": mine.get(doc["id"])} for doc in docs])
        for key, title, docs in rows
    ]


def _shared_home_rows(session: Session, genres: list[str]) -> list[tuple[str, str, Documents]]:
    """Trending and the genres' best: the same for everyone, so built once per TTL."""
    # Media URLs in them are built from CBRTL_PUBLIC_URL, so no key names a Host.
    store = shared_rows()
    rows = [
        (
            "trending",
            "Trending now",
            store.get(
                "trending",
                lambda: documents(session, trending_contents(session, "day", ROW_LENGTH), None),
            ),
        )
    ]
    for genre in genres:

        def best(genre: str = genre) -> Documents:
            items, _ = catalogue.list_content(
                session=session, genre=genre, sort="rating", per_page=ROW_LENGTH
            )
            return documents(session, items, None)

        rows.append((f"genre:{genre}", f"Top {genre}", store.get(f"genre:{genre}", best)))
    return rows


def home_rows(session: Session, user_id: int | None) -> list[dict[str, Any]]:
    """The home page's rows, for the JSON API and the page; recommended items carry a reason."""
    rows: list[tuple[str, str, Documents]] = []
    if user_id is not None:
        # The picks are Content documents already, and never titles the user rated.
        picks = recommendations(session, user_id, ROW_LENGTH)["items"]
        recommended = [{**p["content"], "reason": p["reason"]} for p in picks]
        rows.append(("recommended", "Recommended for you", recommended))
        started = viewing.continue_watching(session=session, user_id=user_id, limit=ROW_LENGTH)
        rows.append(
            ("continue_watching", "Continue watching", documents(session, started, user_id))
        )
    liked = preferences.get_genres(session=session, user_id=user_id) if user_id else []
    genres = (liked or list(DEFAULT_GENRES))[:GENRE_ROWS]
    rows += _with_my_ratings(session, _shared_home_rows(session, genres), user_id)
    return [
        {"key": key, "title": title, "items": items}
        for key, title, items in rows
        if items or key == "continue_watching"
    ]


@blp.get("/homepage")
@blp.response(200, HomepageOut)
def homepage() -> dict[str, Any]:
    return {"rows": home_rows(db_session(), optional_user_id())}
