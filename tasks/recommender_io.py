"""Glue between the recommender engines and the stores: load, save, publish.

Kept apart from the task definitions so each task reads as its few steps.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from db import recs_cache
from db.after_commit import call_after_commit
from db.models import RecModel
from db.services import ratings, recommender
from db.services.recommender import LiveModel, Recommended, pack
from db.storage import make_storage
from tasks.context import cache_client, session_factory, settings
from workers.recommender import pipeline
from workers.recommender.data import Interactions
from workers.recommender.ease import EASE
from workers.recommender.svd import SVDRatings
from workers.recommender.top_n import top_k, top_n

LIST_LENGTH = 50
SIMILAR = 20
REFRESHED = "Updated from your latest ratings"
MODEL_CLASSES: dict[str, Any] = {"ease": EASE, "svd": SVDRatings}
# purpose -> (version, model, user ids, item ids): each purpose's live version, so that
# a refresh using both the ranking and the rating model loads neither again.
_loaded: dict[str, tuple[int, Any, npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}


def load_interactions() -> Interactions:
    with session_factory()() as session:
        arrays = recommender.load_ratings(session=session)
    return Interactions.from_arrays(
        np.frombuffer(arrays.user_ids, dtype=np.int64),
        np.frombuffer(arrays.content_ids, dtype=np.int64),
        np.frombuffer(arrays.scores, dtype=np.float32),
    )


def _ids_blob(data: Interactions) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, users=data.users, items=data.items)
    return buffer.getvalue()


def save_versions(
    job_id: int, data: Interactions, trained: Sequence[pipeline.Trained], *, force: bool
) -> dict[str, Any]:
    """Store artifacts, record versions, activate those not worse than the active ones."""
    storage = make_storage(settings())
    outcome: dict[str, Any] = {"ratings": len(data), "users": data.n_users, "items": data.n_items}
    with session_factory()() as session:
        # A rerun after the worker died past this point: the versions stand, recorded once.
        recorded = recommender.versions_of_job(session=session, job_id=job_id)
        if not recorded:
            storage.put_bytes(
                f"models/job-{job_id}/ids.npz",
                _ids_blob(data),
                content_type="application/octet-stream",
            )
        for model in trained:
            if model.purpose in recorded:
                version = recorded[model.purpose]
                outcome[model.purpose] = {
                    "version": version.version,
                    "algorithm": version.algorithm,
                    "metrics": version.metrics,
                    "activated": version.active,
                    "decision": version.decision,
                }
                continue
            key = f"models/job-{job_id}/{model.purpose}-{model.algorithm}.npz"
            storage.put_bytes(key, model.model.to_bytes(), content_type="application/octet-stream")
            active = recommender.active_model(session=session, purpose=model.purpose)
            version = recommender.record_model(
                session=session,
                purpose=model.purpose,
                algorithm=model.algorithm,
                params=model.model.params,
                metrics=model.metrics,
                artifact_key=key,
                trained_ratings=len(data),
                job_id=job_id,
            )
            activate, decision = _decide(model, active, force=force)
            if activate:
                recommender.activate(session=session, version=version.version, decision=decision)
            else:
                version.decision = decision
            outcome[model.purpose] = {
                "version": version.version,
                "algorithm": model.algorithm,
                "metrics": model.metrics,
                "activated": activate,
                "decision": decision,
            }
        session.commit()
    return outcome


def _decide(model: pipeline.Trained, active: RecModel | None, *, force: bool) -> tuple[bool, str]:
    """Activate unless the new version is worse than the live one on the guard figure."""
    guard, _ = pipeline.GUARD[model.purpose]
    new = model.metrics[guard]
    if active is None or guard not in active.metrics:
        return True, f"activated: first version ({guard} {new:.4f})"
    old = active.metrics[guard]
    if pipeline.better_or_equal(model.purpose, model.metrics, active.metrics):
        return True, f"activated: {guard} {new:.4f}, active version {active.version} had {old:.4f}"
    if force:
        return True, f"activated by the operator although {guard} {new:.4f} is worse than {old:.4f}"
    return False, f"kept version {active.version}: {guard} {new:.4f} is worse than its {old:.4f}"


def _titles(session: Session, ids: Sequence[int]) -> dict[int, str]:
    return recommender.titles(session=session, content_ids=list(ids))


def publish_top_n(version: int, data: Interactions, model: EASE) -> int:
    """Every user's list and every title's neighbours, to the database and Redis."""
    history = data.matrix()
    items, scores = top_n(model.score, data.n_users, LIST_LENGTH, exclude=history)
    reasons = pipeline.strongest_reasons(model, history, items)
    with session_factory()() as session:
        titles = _titles(session, data.items[np.unique(reasons[reasons >= 0])].tolist())
        lists = [
            _recommended(int(data.users[u]), items[u], scores[u], reasons[u], data.items, titles)
            for u in range(data.n_users)
        ]
        recommender.replace_recommendations(
            session=session, model_version=version, lists=lists, every_user=True
        )
        sources, neighbours, strengths = pipeline.similar_all(model, SIMILAR)
        recommender.replace_similar(
            session=session,
            model_version=version,
            rows=(
                (int(data.items[source]), rank, int(data.items[neighbour]), float(score))
                for source, row, row_scores in zip(sources, neighbours, strengths, strict=True)
                for rank, (neighbour, score) in enumerate(zip(row, row_scores, strict=True), 1)
                if np.isfinite(score)
            ),
        )
        _cache(session, version, lists)
        session.commit()
    return len(lists)


def _recommended(
    user_id: int,
    item_rows: npt.NDArray[np.int32],
    scores: npt.NDArray[np.float32],
    reason_rows: npt.NDArray[np.int64],
    item_ids: npt.NDArray[np.int64],
    titles: dict[int, str],
) -> Recommended:
    keep = item_rows >= 0
    reasons = [
        f"Because you rated {titles[int(item_ids[r])]}"
        if r >= 0 and int(item_ids[r]) in titles
        else "Popular with people like you"
        for r in reason_rows[keep]
    ]
    return Recommended(
        user_id=user_id,
        content_ids=item_ids[item_rows[keep]].tolist(),
        scores=[float(s) for s in scores[keep]],
        reasons=reasons,
    )


def _cache(session: Session, version: int, lists: Sequence[Recommended]) -> None:
    """Put the lists in Redis once `session` commits them (never ahead of the database)."""
    generated = recommender.now_iso()
    documents = {
        entry.user_id: {
            "model_version": version,
            "generated_at": generated,
            "items": [
                list(t) for t in zip(entry.content_ids, entry.scores, entry.reasons, strict=True)
            ],
        }
        for entry in lists
    }
    call_after_commit(session, partial(recs_cache.write_many, cache_client(), documents))


def publish_rating_model(version: int, data: Interactions, model: SVDRatings) -> None:
    rows = [("mean", 0, float(model.global_mean), b"")]
    rows += [
        (
            "user",
            int(data.users[u]),
            float(model.user_bias[u]),
            pack(model.user_factors[u].tolist()),
        )
        for u in range(data.n_users)
    ]
    rows += [
        (
            "item",
            int(data.items[i]),
            float(model.item_bias[i]),
            pack(model.item_factors[i].tolist()),
        )
        for i in range(data.n_items)
    ]
    with session_factory()() as session:
        recommender.store_factors(session=session, model_version=version, rows=rows)
        session.commit()


def load_model(
    row: LiveModel | RecModel,
) -> tuple[Any, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The version's model and raw ids, loaded once per worker process; a newer version
    of the same purpose replaces it (one per purpose is live: memory stays bounded)."""
    held = _loaded.get(row.purpose)
    if held is None or held[0] != row.version:
        storage = make_storage(settings())
        model = MODEL_CLASSES[row.algorithm].from_bytes(storage.get_bytes(row.artifact_key))
        ids = np.load(
            io.BytesIO(storage.get_bytes(row.artifact_key.rsplit("/", 1)[0] + "/ids.npz"))
        )
        held = (row.version, model, ids["users"], ids["items"])
        _loaded[row.purpose] = held
    return held[1], held[2], held[3]


def _rows_of(
    sorted_ids: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """The model rows of those of `wanted` the model knows, and which those are (a mask)."""
    if not len(sorted_ids):
        return np.empty(0, dtype=np.int64), np.zeros(len(wanted), dtype=bool)
    at = np.searchsorted(sorted_ids, wanted)
    known = sorted_ids[np.minimum(at, len(sorted_ids) - 1)] == wanted
    return at[known], known


def refresh_lists(
    session: Session, user_ids: Sequence[int], active: Mapping[str, LiveModel | RecModel | None]
) -> dict[str, Any]:
    """Fold each viewer's current ratings into the live models: their lists and factors
    move now, one read and one write per table for all of them."""
    rated = ratings.scores_for_users(session=session, user_ids=user_ids)
    given = {
        user: (np.fromiter(scores, np.int64, len(scores)),
               np.fromiter(scores.values(), np.float32, len(scores)))
        for user, scores in rated.items()
    }  # fmt: skip
    result: dict[str, Any] = {"users": len(given), "rated": sum(map(len, rated.values()))}
    if (ranking := active.get("ranking")) is not None:
        lists = _ranked(session, load_model(ranking), given)
        recommender.replace_recommendations(
            session=session, model_version=ranking.version, lists=lists, every_user=False
        )
        _cache(session, ranking.version, lists)
        result["items"] = sum(len(entry.content_ids) for entry in lists)
    if (rating := active.get("rating")) is not None:
        svd, _, items = load_model(rating)
        folded = []
        for user, (ids, values) in given.items():
            rows, known = _rows_of(items, ids)
            bias, factors = svd.fold_in(rows, values[known])
            # pack()'s bytes, without a list
            folded.append((user, float(bias), factors.astype("<f4").tobytes()))
        recommender.replace_user_factors(
            session=session, model_version=rating.version, users=folded
        )
    return result


def _ranked(
    session: Session,
    loaded: tuple[EASE, npt.NDArray[np.int64], npt.NDArray[np.int64]],
    given: Mapping[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]],
) -> list[Recommended]:
    """Each viewer's best unrated titles, all viewers' fold-ins in one product."""
    model, _, items = loaded
    rows = [_rows_of(items, ids)[0] for ids, _ in given.values()]
    scores = model.fold_in_many(rows)
    picks = []
    for row, rated in zip(scores, rows, strict=True):
        row[rated] = -np.inf
        best = top_k(row, LIST_LENGTH)
        picks.append(best[np.isfinite(row[best])])
    # A title deleted since training is still in the model, but not to be listed.
    named = np.unique(np.concatenate([np.empty(0, np.int64), *picks]))
    kept = recommender.existing(session=session, content_ids=items[named].tolist())
    lists = []
    for user, row, best in zip(given, scores, picks, strict=True):
        best = best[np.isin(items[best], kept)]
        lists.append(
            Recommended(
                user_id=user,
                content_ids=items[best].tolist(),
                scores=row[best].tolist(),
                reasons=[REFRESHED] * len(best),
            )
        )
    return lists
