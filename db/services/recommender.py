"""Model versions, stored recommendations and rating factors. Callers commit.

No NumPy here: the web imports this module. Bulk data crosses to the engines as
stdlib arrays (array('q'), array('f')), which NumPy reads without copying.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Delete, Select, Table, bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from db.errors import NotFound
from db.id_lists import among
from db.models import (
    Content,
    Rating,
    RatingFactors,
    RecModel,
    Recommendation,
    SimilarItem,
)
from db.models.base import utcnow
from db.upsert import upsert

# Core tables for the per-user writes: rows as dicts, no ORM unit of work.
_RECOMMENDATIONS: Table = Recommendation.__table__  # type: ignore[assignment]
_FACTORS: Table = RatingFactors.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class RatingArrays:
    user_ids: array  # array('q')
    content_ids: array  # array('q')
    scores: array  # array('f')


def load_ratings(*, session: Session, batch: int = 50_000) -> RatingArrays:
    """Every rating, streamed from the database into compact arrays."""
    users, items, scores = array("q"), array("q"), array("f")
    result = session.execute(
        select(Rating.user_id, Rating.content_id, Rating.score).execution_options(yield_per=batch)
    )
    for user_id, content_id, score in result:
        users.append(user_id)
        items.append(content_id)
        scores.append(score)
    return RatingArrays(users, items, scores)


def active_model(*, session: Session, purpose: str) -> RecModel | None:
    return session.scalar(
        select(RecModel).where(RecModel.purpose == purpose, RecModel.active.is_(True))
    )


@dataclass(frozen=True)
class LiveModel:
    """What a worker needs to serve a live version: no ORM object to load or track."""

    version: int
    purpose: str
    algorithm: str
    artifact_key: str


def active_models(*, session: Session) -> dict[str, LiveModel]:
    """The live version of each purpose that has one, in one query."""
    columns = (RecModel.version, RecModel.purpose, RecModel.algorithm, RecModel.artifact_key)
    rows = session.execute(select(*columns).where(RecModel.active.is_(True)))
    return {row.purpose: LiveModel(*row) for row in rows}


def any_active(*, session: Session) -> bool:
    return (
        session.scalar(select(RecModel.version).where(RecModel.active.is_(True)).limit(1))
        is not None
    )


def versions_of_job(*, session: Session, job_id: int) -> dict[str, RecModel]:
    """The versions a retrain job recorded, by purpose (a rerun of the job reuses them)."""
    rows = session.scalars(select(RecModel).where(RecModel.job_id == job_id))
    return {row.purpose: row for row in rows}


def list_models(*, session: Session) -> list[RecModel]:
    return list(session.scalars(select(RecModel).order_by(RecModel.version.desc())))


def record_model(
    *,
    session: Session,
    purpose: str,
    algorithm: str,
    params: dict[str, Any],
    metrics: dict[str, Any],
    artifact_key: str,
    trained_ratings: int,
    job_id: int | None,
) -> RecModel:
    model = RecModel(
        purpose=purpose,
        algorithm=algorithm,
        params=params,
        metrics=metrics,
        artifact_key=artifact_key,
        trained_ratings=trained_ratings,
        job_id=job_id,
    )
    session.add(model)
    session.flush()
    return model


def activate(*, session: Session, version: int, decision: str) -> RecModel:
    model = session.get(RecModel, version)
    if model is None:
        raise NotFound(f"No model version {version}.")
    session.execute(
        update(RecModel)
        .where(RecModel.purpose == model.purpose, RecModel.active.is_(True))
        .values(active=False)
    )
    session.flush()
    model.active = True
    model.activated_at = utcnow()
    model.decision = decision
    session.flush()
    return model


@dataclass(frozen=True)
class Recommended:
    user_id: int
    content_ids: Sequence[int]
    scores: Sequence[float]
    reasons: Sequence[str]


def replace_recommendations(
    *, session: Session, model_version: int | None, lists: Iterable[Recommended], every_user: bool
) -> int:
    """Write top-N lists; with `every_user`, users absent from `lists` lose their old ones.

    Core rows, not ORM objects: one DELETE, then on PostgreSQL one INSERT from arrays per
    100,000 rows (no per-row parameters), elsewhere a multi-row INSERT per 10,000 rows.
    """
    now = utcnow()
    columns: dict[str, list[Any]] = {name: [] for name in _LIST_COLUMNS}
    users: list[int] = []
    for entry in lists:
        users.append(entry.user_id)
        columns["user_id"].extend([entry.user_id] * len(entry.content_ids))
        columns["rank"].extend(range(1, len(entry.content_ids) + 1))
        columns["content_id"].extend(entry.content_ids)
        columns["score"].extend(entry.scores)
        columns["reason"].extend(reason[:200] for reason in entry.reasons)
    table = _RECOMMENDATIONS
    dialect = session.get_bind().dialect.name
    if every_user:
        session.execute(delete(table))
    elif users:
        session.execute(_delete_lists(dialect), {"users": users})
    count = len(columns["user_id"])
    postgres = dialect == "postgresql"
    step = 100_000 if postgres else 10_000
    for start in range(0, count, step):
        chunk = {name: values[start : start + step] for name, values in columns.items()}
        if postgres:
            session.execute(_INSERT_ARRAYS, {**chunk, "model_version": model_version,
                                             "generated_at": now})  # fmt: skip
        else:
            rows = zip(*chunk.values(), strict=True)
            session.execute(insert(table), [
                dict(zip(_LIST_COLUMNS, row, strict=True), model_version=model_version,
                     generated_at=now) for row in rows
            ])  # fmt: skip
    return count


@lru_cache(maxsize=4)
def _delete_lists(dialect: str) -> Delete:
    return delete(_RECOMMENDATIONS).where(among(_RECOMMENDATIONS.c.user_id, "users", dialect))


_LIST_COLUMNS = ("user_id", "rank", "content_id", "score", "reason")
# Typed arrays, one per column, unnested into rows by the server.
_INSERT_ARRAYS = text(
    "INSERT INTO recommendations "
    "(user_id, rank, content_id, score, reason, model_version, generated_at) "
    "SELECT u, r, c, s, w, CAST(:model_version AS BIGINT), :generated_at "
    "FROM unnest(CAST(:user_id AS BIGINT[]), CAST(:rank AS INTEGER[]), "
    "CAST(:content_id AS BIGINT[]), CAST(:score AS FLOAT8[]), CAST(:reason AS TEXT[])) "
    "AS t(u, r, c, s, w)"
).bindparams(bindparam("generated_at", type_=Recommendation.__table__.c.generated_at.type))


@dataclass(frozen=True)
class StoredRecommendation:
    content: Content
    score: float
    reason: str
    model_version: int | None
    generated_at: datetime


def recommendations_for(
    *, session: Session, user_id: int, limit: int
) -> list[StoredRecommendation]:
    """The stored list, minus anything rated since it was written."""
    rated = select(Rating.content_id).where(Rating.user_id == user_id)
    rows = session.execute(
        select(Recommendation, Content)
        .join(Content, Content.id == Recommendation.content_id)
        .where(Recommendation.user_id == user_id, Recommendation.content_id.not_in(rated))
        .order_by(Recommendation.rank)
        .limit(limit)
    ).all()
    return [
        StoredRecommendation(c, r.score, r.reason, r.model_version, r.generated_at) for r, c in rows
    ]


def pack(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def unpack(blob: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(blob) // 4}f", blob)


def store_factors(
    *, session: Session, model_version: int, rows: Iterable[tuple[str, int, float, bytes]]
) -> None:
    """(kind, entity id, bias, packed vector) rows; kind 'mean' holds the global mean."""
    batch: list[dict[str, Any]] = []
    for kind, entity_id, bias, vector in rows:
        batch.append(
            {
                "model_version": model_version,
                "kind": kind,
                "entity_id": entity_id,
                "bias": bias,
                "vector": vector,
            }
        )
        if len(batch) >= 10_000:
            session.execute(insert(RatingFactors), batch)
            batch = []
    if batch:
        session.execute(insert(RatingFactors), batch)


def replace_user_factors(
    *, session: Session, model_version: int, users: Sequence[tuple[int, float, bytes]]
) -> None:
    """(user id, bias, packed vector) rows, in one upsert statement run for all of them:
    a row is new for a user the version was not trained on."""
    upsert(
        session,
        _FACTORS,
        [
            {"model_version": model_version, "kind": "user", "entity_id": user_id,
             "bias": bias, "vector": vector}
            for user_id, bias, vector in users
        ],
        keys=("model_version", "kind", "entity_id"),
    )  # fmt: skip


def replace_similar(
    *, session: Session, model_version: int, rows: Iterable[tuple[int, int, int, float]]
) -> None:
    """(content id, rank, similar id, score) rows replace every stored neighbour list."""
    session.execute(delete(SimilarItem))
    batch: list[dict[str, Any]] = []
    for content_id, rank, similar_id, score in rows:
        batch.append(
            {
                "content_id": content_id,
                "rank": rank,
                "similar_id": similar_id,
                "score": score,
                "model_version": model_version,
            }
        )
        if len(batch) >= 10_000:
            session.execute(insert(SimilarItem), batch)
            batch = []
    if batch:
        session.execute(insert(SimilarItem), batch)


@lru_cache(maxsize=4)
def _existing(dialect: str) -> Select[tuple[int]]:
    return select(Content.id).where(among(Content.id, "ids", dialect))


def existing(*, session: Session, content_ids: list[int]) -> list[int]:
    """Those of the titles that exist (unlocked: one deleted before the caller commits
    fails a list naming it on the foreign key, and a retry leaves it out)."""
    if not content_ids:
        return []
    dialect = session.get_bind().dialect.name
    return list(session.scalars(_existing(dialect), {"ids": content_ids}))


def titles(*, session: Session, content_ids: list[int]) -> dict[int, str]:
    if not content_ids:
        return {}
    rows = session.execute(select(Content.id, Content.title).where(Content.id.in_(content_ids)))
    return {content_id: title for content_id, title in rows}


def now_iso() -> str:
    return utcnow().isoformat()
