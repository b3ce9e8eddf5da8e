"""The per-viewer overlay on shared documents: one round trip each, no ORM objects.

These run on nearly every signed-in request, so the statements are built once with
bound parameters (an `IN` list as an expanding parameter): building and keying a
fresh statement per request cost more CPU than the query itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from sqlalchemy import (
    BigInteger,
    LargeBinary,
    Select,
    String,
    bindparam,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from db.id_lists import among
from db.models import Genre, GenrePreference, Rating, RatingFactors, RecModel, ViewingProgress
from db.services.recommender import unpack


@lru_cache(maxsize=4)
def _scores(dialect: str) -> Select[tuple[int, float]]:
    return select(Rating.content_id, Rating.score).where(
        Rating.user_id == bindparam("user_id"), among(Rating.content_id, "ids", dialect)
    )


def _factor(kind: str, entity: str | None) -> Select[tuple[str, float, bytes]]:
    """One primary-key lookup in the active rating model's factors (an OR of the three
    let the planner scan every factor row of the model)."""
    entity_id = bindparam(entity) if entity is not None else literal(0)
    return (
        select(RatingFactors.kind, RatingFactors.bias, RatingFactors.vector)
        .join(RecModel, RecModel.version == RatingFactors.model_version)
        .where(
            RecModel.purpose == "rating",
            RecModel.active.is_(True),
            RatingFactors.kind == kind,
            RatingFactors.entity_id == entity_id,
        )
    )


# The viewer's own score of the title rides along as a row of kind "own".
_OWN = select(literal("own"), Rating.score, null().cast(LargeBinary)).where(
    Rating.user_id == bindparam("user_id"), Rating.content_id == bindparam("item_id")
)
_TITLE_OVERLAY = union_all(
    _OWN, _factor("user", "user_id"), _factor("item", "item_id"), _factor("mean", None)
)

_STARTED = (
    select(ViewingProgress.content_id, ViewingProgress.watched_at)
    .where(
        ViewingProgress.user_id == bindparam("user_id"),
        ViewingProgress.completed.is_(False),
        ViewingProgress.position_s > 0,
    )
    .order_by(ViewingProgress.watched_at.desc())
    .limit(bindparam("limit"))
    .subquery()
)
# What the home page asks of every signed-in viewer before it picks its rows: the
# genres they like and what they are watching, as rows of (kind, name, id, time).
_HOME = union_all(
    select(
        literal("genre"),
        Genre.name,
        null().cast(BigInteger),
        null().cast(ViewingProgress.watched_at.type),
    )
    .join(GenrePreference, GenrePreference.genre_id == Genre.id)
    .where(GenrePreference.user_id == bindparam("user_id")),
    select(literal("started"), null().cast(String), _STARTED.c.content_id, _STARTED.c.watched_at),
)


def scores(session: Session, user_id: int, content_ids: Iterable[int]) -> dict[int, float]:
    """The viewer's scores of these titles (those they rated)."""
    ids = sorted(set(content_ids))
    if not ids:
        return {}
    conn = session.connection()
    stmt = _scores(conn.dialect.name)
    rows = conn.execute(stmt, {"user_id": user_id, "ids": ids})
    return {content_id: score for content_id, score in rows}


def title_overlay(
    session: Session, user_id: int, content_id: int
) -> tuple[float | None, float | None]:
    """(the viewer's score, the active rating model's prediction) for one title."""
    rows = (
        session.connection()
        .execute(_TITLE_OVERLAY, {"user_id": user_id, "item_id": content_id})
        .all()
    )
    found = {kind: (bias, vector) for kind, bias, vector in rows}
    own = found.pop("own", (None, None))[0]
    return own, predicted(found)


def predicted(found: dict[str, tuple[float, bytes | None]]) -> float | None:
    """mu + bu + bi + pu.qi from the factor rows by kind, clipped to the score range."""
    if "mean" not in found or "item" not in found:
        return None
    mean = found["mean"][0]
    item_bias, item_vector = found["item"]
    if "user" not in found:
        return round(min(5.0, max(0.5, mean + item_bias)), 2)
    user_bias, user_vector = found["user"]
    dot = sum(
        a * b for a, b in zip(unpack(user_vector or b""), unpack(item_vector or b""), strict=True)
    )
    return round(min(5.0, max(0.5, mean + user_bias + item_bias + dot)), 2)


def home_overlay(session: Session, user_id: int, limit: int) -> tuple[list[str], list[int]]:
    """(the genres the viewer likes, by name; the titles they started and did not
    finish, most recent first, at most `limit`), in one round trip."""
    rows = session.connection().execute(_HOME, {"user_id": user_id, "limit": limit}).all()
    genres = [name for kind, name, _, _ in rows if kind == "genre"]
    started = [(at, content_id) for kind, _, content_id, at in rows if kind == "started"]
    started.sort(key=lambda pair: pair[0], reverse=True)
    return sorted(genres), [content_id for _, content_id in started]
