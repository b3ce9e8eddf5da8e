"""Personal discovery: a user's recommendations and a title's neighbours.

A list is picked from ids (the cached list, the stored one, or the cold start) and
the viewer's ratings, then dressed with title documents from the read model: a
cache hit costs one query (what the viewer rated among the picks) and two Redis
reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from db import recs_cache
from db.errors import NotFound
from db.services import content as catalogue
from db.services import discovery, preferences, recommender
from web.auth.roles import current_user_id, require_roles
from web.blueprint import Blueprint
from web.content.schemas import ContentOut
from web.discovery.shared_rows import shared_rows
from web.discovery.titles import Raw, array, documents, json_response, my_ratings, obj
from web.input import InputSchema
from web.runtime import db_session, runtime

blp = Blueprint("recommendations", __name__, description="Recommendations")

NEW_TITLE_SLOT = 2  # 0-based: the third place of a list goes to a title nobody rated yet
NEW_TITLES = 10
SPARE = 10  # candidates checked beyond the limit, for titles rated since the list


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


Pick = tuple[int, float, str]


@dataclass
class Picks:
    model_version: int | None
    generated_at: str | None
    items: list[Pick]


def _newest_unrated(session: Session) -> list[tuple[int, int | None]]:
    """New titles change rarely, and a few seconds late is fine for a list slot (the
    viewer's own ratings of them are checked on every request): kept like the rows."""
    pairs = shared_rows().get(
        "new-titles",
        lambda: [list(p) for p in discovery.newest_unrated(session=session, limit=NEW_TITLES)],
    )
    return [(int(c), owner) for c, owner in pairs]


def _from_cache(user_id: int) -> Picks | None:
    doc = recs_cache.read(runtime().cache, user_id)
    if not doc:
        return None
    items = [(int(c), float(s), str(r)) for c, s, r in doc["items"]]
    return Picks(doc["model_version"], doc["generated_at"], items)


def _from_database(session: Session, user_id: int, limit: int) -> Picks | None:
    stored = recommender.recommendations_for(session=session, user_id=user_id, limit=limit)
    if not stored:
        return None
    return Picks(
        stored[0].model_version,
        stored[0].generated_at.isoformat(),
        [(s.content.id, s.score, s.reason) for s in stored],
    )


def _cold_start(session: Session, user_id: int, limit: int) -> Picks:
    """No list yet (a new user, or no model): their genres first, then the best rated."""
    picks: list[Pick] = []
    for genre in preferences.get_genres(session=session, user_id=user_id):
        best = discovery.best_rated(session=session, genre=genre, limit=limit)
        picks += [(c, 0.0, f"Popular in {genre}, a genre you like") for c in best]
    best = discovery.best_rated(session=session, genre=None, limit=limit * 2)
    picks += [(c, 0.0, "Highly rated on cbrtl") for c in best]
    return Picks(None, None, picks)


@dataclass
class Listing:
    picks: Picks
    docs: dict[int, str]  # of the picks and of `also`
    mine: dict[int, float]  # the viewer's ratings among the candidates and `also`


def picks_for(session: Session, user_id: int, limit: int, also: Sequence[int] = ()) -> Listing:
    """The viewer's list (never a title they rated, a new title in NEW_TITLE_SLOT), with
    the documents and the viewer's ratings of its titles and of `also` (the home page's
    other rows): one query and one document read for all of them."""
    picks = (
        _from_cache(user_id)
        or _from_database(session, user_id, limit)
        or _cold_start(session, user_id, limit)
    )
    fresh = [(c, owner) for c, owner in _newest_unrated(session) if owner != user_id]
    # The list was written before the viewer's latest ratings: they are checked here,
    # for the head of the list (its refresh follows each rating within seconds, so
    # few are rated meanwhile); the whole list only when the head falls short.
    head = [c for c, _, _ in picks.items[: limit + SPARE]]
    mine = my_ratings(session, user_id, [*head, *(c for c, _ in fresh), *also])
    if len(picks.items) > len(head) and len(set(head) - set(mine)) < limit + 1:
        mine |= my_ratings(session, user_id, [c for c, _, _ in picks.items[len(head) :]])
    seen: set[int] = set()
    kept: list[Pick] = []
    for pick in picks.items:
        if pick[0] not in mine and pick[0] not in seen:
            seen.add(pick[0])
            kept.append(pick)
    unrated = [c for c, _ in fresh if c not in mine and c not in seen]
    new = unrated[user_id % len(unrated)] if unrated else None  # spread them over viewers
    # One more than the limit: the new title pushes the last pick out.
    wanted = [c for c, _, _ in kept[: limit + 1]]
    docs = documents(session, [*wanted, *([new] if new is not None else []), *also])
    kept = [p for p in kept if p[0] in docs][:limit]
    if new is not None and new in docs and len(kept) > NEW_TITLE_SLOT:
        kept = [*kept[:NEW_TITLE_SLOT], (new, 0.0, "New on cbrtl"), *kept[NEW_TITLE_SLOT:-1]]
    if picks.model_version is None:  # the cold start scores by the titles' own ratings
        kept = [(c, _bayesian(docs[c]), r) for c, _, r in kept]
    return Listing(Picks(picks.model_version, picks.generated_at, kept), docs, mine)


def _bayesian(document: str) -> float:
    value = json.loads(document)["rating"]["bayesian"]
    return float(value) if value is not None else 0.0


def recommendations_json(session: Session, user_id: int, limit: int) -> str:
    listing = picks_for(session, user_id, limit)
    picks, docs = listing.picks, listing.docs
    reasons: dict[str, str] = {}  # a list repeats a handful of reasons
    items = [
        f'{{"content":{docs[c]},"score":{json.dumps(score)},"reason":'
        f"{reasons.get(r) or reasons.setdefault(r, json.dumps(r))}}}"
        for c, score, r in picks.items
    ]
    return obj(
        model_version=picks.model_version, generated_at=picks.generated_at, items=Raw(array(items))
    )


@blp.get("/recommendations")
@blp.arguments(LimitQuery, location="query")
@blp.response(200, RecommendationsOut)
@require_roles()
def get_recommendations(args: dict[str, int]) -> Any:
    return json_response(recommendations_json(db_session(), current_user_id(), args["limit"]))


def similar_ids(session: Session, content_id: int, limit: int) -> list[int]:
    """The learned neighbours; before the first model, the best of the same genre."""
    similar = discovery.similar(session=session, content_id=content_id, limit=limit)
    if similar:
        return similar
    if not catalogue.exists(session=session, content_id=content_id):
        raise NotFound(f"No content {content_id}.")
    genre = discovery.first_genre(session=session, content_id=content_id)
    if genre is None:
        return []
    best = discovery.best_rated(session=session, genre=genre, limit=limit + 1)
    return [c for c in best if c != content_id][:limit]


@blp.get("/content/<id:content_id>/similar")
@blp.arguments(LimitQuery, location="query")
@blp.response(200, SimilarOut)
def get_similar(args: dict[str, int], content_id: int) -> Any:
    session = db_session()
    ids = similar_ids(session, content_id, args["limit"])
    docs = documents(session, ids)
    return json_response(obj(items=Raw(array(docs[i] for i in ids if i in docs))))
