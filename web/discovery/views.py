"""Discovery: trending and the home page rows (recommendations join with the recommender).

Rows are lists of ids (trending from its job's cache, a genre's best kept briefly per
process), dressed with title documents from the read model; the viewer's overlay is
their ratings of every title on the page, in one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from db import trending_cache
from db.read_models import viewer
from db.read_models.titles import with_field, with_viewer
from db.services import discovery, trending
from web.auth.roles import optional_user_id
from web.blueprint import Blueprint
from web.content.schemas import ContentOut
from web.discovery.recommendations import picks_for
from web.discovery.shared_rows import shared_rows
from web.discovery.titles import Raw, array, documents, for_viewer, json_response, obj
from web.input import InputSchema
from web.runtime import db_reads, runtime

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


def trending_ids(session: Session, window: str, limit: int) -> list[int]:
    """Redis first, then the stored list, then the most rated (before the first run)."""
    ids = trending_cache.read(runtime().cache, window)
    if ids is None:
        ids = trending.stored(session=session, window=window, limit=limit)
    if not ids:
        ids = trending.most_rated(session=session, limit=limit)
    return ids[:limit]


@blp.get("/trending")
@blp.arguments(TrendingQuery(), location="query")
@blp.response(200, ItemsOut)
def get_trending(args: dict[str, Any]) -> Any:
    session = db_reads()
    ids = trending_ids(session, args["window"], args["limit"])
    return json_response(obj(items=Raw(array(for_viewer(session, ids, optional_user_id())))))


@dataclass
class Row:
    key: str
    title: str
    items: list[str]  # JSON documents

    def json(self) -> str:
        return obj(key=self.key, title=self.title, items=Raw(array(self.items)))


def _shared_row_ids(session: Session, genres: list[str]) -> list[tuple[str, str, list[int]]]:
    """Trending and the genres' best: the same for everyone, so picked once per TTL."""
    store = shared_rows()
    rows = [
        (
            "trending",
            "Trending now",
            store.get("trending", lambda: trending_ids(session, "day", ROW_LENGTH)),
        )
    ]
    for genre in genres:

        def best(genre: str = genre) -> list[int]:
            return discovery.best_rated(session=session, genre=genre, limit=ROW_LENGTH)

        rows.append((f"genre:{genre}", f"Top {genre}", store.get(f"genre:{genre}", best)))
    return rows


def home_rows(session: Session, user_id: int | None) -> list[Row]:
    """The home page's rows, for the JSON API and the page; recommended items carry a reason."""
    liked, started = viewer.home_overlay(session, user_id, ROW_LENGTH) if user_id else ([], [])
    genres = (liked or list(DEFAULT_GENRES))[:GENRE_ROWS]
    shared = _shared_row_ids(session, genres)
    if user_id is None:
        docs = documents(session, [i for _, _, ids in shared for i in ids])
        return [
            Row(key, title, [docs[i] for i in ids if i in docs])
            for key, title, ids in shared
            if any(i in docs for i in ids)
        ]
    row_ids = [i for _, _, ids in shared for i in ids]
    # Picks are never titles the viewer rated; the rest carry the viewer's rating.
    listing = picks_for(session, user_id, ROW_LENGTH, also=[*started, *row_ids])
    picks, docs, mine = listing.picks, listing.docs, listing.mine
    rows = [
        Row(
            "recommended",
            "Recommended for you",
            [with_field(docs[c], "reason", reason) for c, _, reason in picks.items if c in docs],
        ),
        Row(
            "continue_watching",
            "Continue watching",
            [with_viewer(docs[i], mine.get(i), None) for i in started if i in docs],
        ),
    ]
    rows += [
        Row(key, title, [with_viewer(docs[i], mine.get(i), None) for i in ids if i in docs])
        for key, title, ids in shared
    ]
    return [row for row in rows if row.items or row.key == "continue_watching"]


@blp.get("/homepage")
@blp.response(200, HomepageOut)
def homepage() -> Any:
    rows = home_rows(db_reads(), optional_user_id())
    return json_response(obj(rows=Raw(array(row.json() for row in rows))))
