"""Personal discovery: a user's recommendations and a title's neighbours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from db import recs_cache
from db.models import Content
from db.services import content as catalogue
from db.services import preferences, ratings, recommender
from db.services.trending import contents_in_order
from web.auth.roles import current_user_id, require_roles
from web.blueprint import Blueprint
from web.content.presenters import content_document
from web.content.schemas import ContentOut
from web.input import InputSchema
from web.runtime import db_session, runtime

blp = Blueprint("recommendations", __name__, description="Recommendations")


class LimitQuery(InputSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class RecommendationOut(Schema):
    content = fields.Nested(ContentOut)
    score = fields.Float()
    reason = fields.String()


class RecommendationsOut(Schema):
    model_version = fields.Integer(allow_none=True)
    generated_at = fields.DateTime(allow_none=True)
    items = fields.List(fields.Nested(RecommendationOut))


class SimilarOut(Schema):
    items = fields.List(fields.Nested(ContentOut))


def _from_cache(session: Session, user_id: int, limit: int) -> dict[str, Any] | None:
    doc = recs_cache.read(runtime().cache, user_id)
    if not doc:
        return None
    rated = set(ratings.scores_for_user(session=session, user_id=user_id))
    entries = [e for e in doc["items"] if e[0] not in rated][:limit]
    contents = {c.id: c for c in contents_in_order(session=session, ids=[e[0] for e in entries])}
    return {
        "model_version": doc["model_version"],
        "generated_at": datetime.fromisoformat(doc["generated_at"]),
        "items": [
            {"content": content_document(contents[cid]), "score": score, "reason": reason}
            for cid, score, reason in entries
            if cid in contents
        ],
    }


def _from_database(session: Session, user_id: int, limit: int) -> dict[str, Any] | None:
    stored = recommender.recommendations_for(session=session, user_id=user_id, limit=limit)
    if not stored:
        return None
    return {
        "model_version": stored[0].model_version,
        "generated_at": stored[0].generated_at,
        "items": [
            {"content": content_document(s.content), "score": s.score, "reason": s.reason}
            for s in stored
        ],
    }


def _cold_start(session: Session, user_id: int, limit: int) -> dict[str, Any]:
    """No list yet (a new user, or no model): their genres first, then the best rated."""
    rated = set(ratings.scores_for_user(session=session, user_id=user_id))
    picks: list[tuple[Content, str]] = []
    for genre in preferences.get_genres(session=session, user_id=user_id):
        best, _ = catalogue.list_content(
            session=session, genre=genre, sort="rating", per_page=limit
        )
        picks += [(c, f"Popular in {genre}, a genre you like") for c in best]
    best, _ = catalogue.list_content(session=session, sort="rating", per_page=limit * 2)
    picks += [(c, "Highly rated on cbrtl") for c in best]
    seen: set[int] = set()
    items = []
    for content, reason in picks:
        if content.id in rated or content.id in seen:
            continue
        seen.add(content.id)
        score = content.stats.rating_bayesian if content.stats else None
        items.append(
            {"content": content_document(content), "score": score or 0.0, "reason": reason}
        )
    return {"model_version": None, "generated_at": None, "items": items[:limit]}


NEW_TITLE_SLOT = 2  # 0-based: the third place of a list goes to a title nobody rated yet


def _with_a_new_title(session: Session, doc: dict[str, Any], user_id: int) -> dict[str, Any]:
    """Items nobody has rated cannot be ranked by a model; give the newest one a place."""
    # The stats lag the ratings a little: the user's own ratings are checked directly.
    skip = {entry["content"]["id"] for entry in doc["items"]}
    skip |= set(ratings.scores_for_user(session=session, user_id=user_id))
    fresh = [
        c
        for c in recommender.newest_unrated_titles(session=session, limit=10)
        if c.id not in skip and c.owner_id != user_id
    ]
    if fresh and len(doc["items"]) > NEW_TITLE_SLOT:
        pick = fresh[user_id % len(fresh)]  # spread the new titles over users
        entry = {"content": content_document(pick), "score": 0.0, "reason": "New on cbrtl"}
        doc["items"] = [*doc["items"][:NEW_TITLE_SLOT], entry, *doc["items"][NEW_TITLE_SLOT:-1]]
    return doc


def recommendations(session: Session, user_id: int, limit: int) -> dict[str, Any]:
    doc = (
        _from_cache(session, user_id, limit)
        or _from_database(session, user_id, limit)
        or _cold_start(session, user_id, limit)
    )
    return _with_a_new_title(session, doc, user_id)


@blp.get("/recommendations")
@blp.arguments(LimitQuery, location="query")
@blp.response(200, RecommendationsOut)
@require_roles()
def get_recommendations(args: dict[str, int]) -> dict[str, Any]:
    return recommendations(db_session(), current_user_id(), args["limit"])


def similar_titles(session: Session, content_id: int, limit: int) -> list[Content]:
    item = catalogue.get_content(session=session, content_id=content_id)
    similar = recommender.similar_to(session=session, content_id=content_id, limit=limit)
    if not similar and item.genres:
        # Before the first model: the best rated of the same first genre.
        best, _ = catalogue.list_content(
            session=session, genre=item.genres[0].name, sort="rating", per_page=limit + 1
        )
        similar = [c for c in best if c.id != content_id][:limit]
    return similar


@blp.get("/content/<id:content_id>/similar")
@blp.arguments(LimitQuery, location="query")
@blp.response(200, SimilarOut)
def get_similar(args: dict[str, int], content_id: int) -> dict[str, Any]:
    similar = similar_titles(db_session(), content_id, args["limit"])
    return {"items": [content_document(c) for c in similar]}
