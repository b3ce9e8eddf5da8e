"""Personal discovery: a user's recommendations and a title's neighbours.

A list is picked from ids (the cached list, the stored one, or the cold start) and
the viewer's ratings, then dressed with title documents from the read model: a
cache hit costs one Redis round trip, which brings the documents of the list's head
along (db/read_models/list_reads.py), and no query.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from db.errors import NotFound
from db.read_models.list_reads import CachedList
from db.services import content as catalogue
from db.services import discovery, preferences, recommender
from web.auth.revocation import rider
from web.auth.roles import current_user_id, require_roles
from web.blueprint import Blueprint
from web.content.schemas import ContentOut
from web.discovery.shared_rows import shared_rows
from web.discovery.titles import Raw, array, documents, json_response, my_ratings, obj
from web.input import InputSchema
from web.runtime import db_reads, runtime

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


def _from_cache(user_id: int, limit: int, extra: Sequence[int]) -> CachedList | None:
    """The cached list, what the viewer rated since, and the documents of its head (as
    `picks_for` picks it) and of `extra`."""
    return runtime().list_reads.read(user_id, head=limit + 2, extra=extra, rider=rider())


def _picks(cached: CachedList) -> Picks:
    doc = cached.doc
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
    other rows): one query and one document read for all of them.

    A cached list with nothing else to overlay needs no query at all: it left out what
    the viewer had rated when it was scored, and Redis knows what they rated since."""
    fresh = [(c, owner) for c, owner in _newest_unrated(session) if owner != user_id]
    # Not `also`: the home page's rows are many titles, which the script would make
    # Redis spend more on than the round trip they save costs here.
    cached = _from_cache(user_id, limit, [c for c, _ in fresh])
    picks = (
        _picks(cached)
        if cached
        else _from_database(session, user_id, limit) or _cold_start(session, user_id, limit)
    )
    if cached and not also:
        mine: dict[int, float] = {}
        hidden = cached.rated
    else:
        # The head of the list, for titles rated since it was written (its refresh
        # follows each rating within seconds); the whole list when the head falls short.
        head = [c for c, _, _ in picks.items[: limit + SPARE]]
        mine = my_ratings(session, user_id, [*head, *(c for c, _ in fresh), *also])
        if len(picks.items) > len(head) and len(set(head) - set(mine)) < limit + 1:
            mine |= my_ratings(session, user_id, [c for c, _, _ in picks.items[len(head) :]])
        hidden = set(mine) | (cached.rated if cached else set())
    kept: list[Pick] = []
    shown: set[int] = set()
    for pick in picks.items:
        if pick[0] not in hidden and pick[0] not in shown:
            shown.add(pick[0])
            kept.append(pick)
            if len(kept) > limit + 1:  # one spare for a deleted title
                break
    unrated = [c for c, _ in fresh if c not in hidden and c not in shown]
    new = unrated[user_id % len(unrated)] if unrated else None  # spread them over viewers
    docs = documents(
        session,
        [*(c for c, _, _ in kept), *([new] if new else []), *also],
        prefetched=cached.stored if cached else None,
    )
    kept = [p for p in kept if p[0] in docs][:limit]
    if new is not None and new in docs and len(kept) > NEW_TITLE_SLOT:
        kept = [*kept[:NEW_TITLE_SLOT], (new, 0.0, "New on cbrtl"), *kept[NEW_TITLE_SLOT:-1]]
    if picks.model_version is None:  # the cold start scores by the titles' own ratings
        kept = [(c, _bayesian(docs[c]), r) for c, _, r in kept]
    return Listing(Picks(picks.model_version, picks.generated_at, kept), docs, mine)


def _number(value: float) -> str:
    """JSON for a score (repr is JSON for finite floats, and cheaper than json.dumps)."""
    return repr(float(value)) if math.isfinite(value) else "null"


def _bayesian(document: str) -> float:
    value = json.loads(document)["rating"]["bayesian"]
    return float(value) if value is not None else 0.0


def recommendations_json(session: Session, user_id: int, limit: int) -> str:
    listing = picks_for(session, user_id, limit)
    picks, docs = listing.picks, listing.docs
    reasons: dict[str, str] = {}  # a list repeats a handful of reasons
    items = [
        f'{{"content":{docs[c]},"score":{_number(score)},"reason":'
        f"{reasons.get(r) or reasons.setdefault(r, json.dumps(r))}}}"
        for c, score, r in picks.items
    ]
    return obj(
        model_version=picks.model_version, generated_at=picks.generated_at, items=Raw(array(items))
    )


@blp.get("/recommendations")
@blp.arguments(LimitQuery(), location="query")
@blp.response(200, RecommendationsOut)
@require_roles()
def get_recommendations(args: dict[str, int]) -> Any:
    return json_response(recommendations_json(db_reads(), current_user_id(), args["limit"]))


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
@blp.arguments(LimitQuery(), location="query")
@blp.response(200, SimilarOut)
def get_similar(args: dict[str, int], content_id: int) -> Any:
    session = db_reads()
    ids = similar_ids(session, content_id, args["limit"])
    docs = documents(session, ids)
    return json_response(obj(items=Raw(array(docs[i] for i in ids if i in docs))))
