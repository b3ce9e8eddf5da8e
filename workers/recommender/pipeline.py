"""One retrain: measure each candidate on a held-back split, then fit it on everything.

Pure: arrays in, fitted models and figures out. The ml-queue task does the I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from workers.recommender.data import Interactions
from workers.recommender.ease import EASE
from workers.recommender.metrics import (
    catalogue_coverage,
    mae,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)
from workers.recommender.splits import per_user_split
from workers.recommender.svd import SVDRatings
from workers.recommender.top_n import top_n

# The figure a new version must not be worse on, per purpose, and which way is better.
GUARD = {"ranking": ("ndcg@10", max), "rating": ("rmse", min)}


@dataclass
class Trained:
    purpose: str  # "ranking" or "rating"
    algorithm: str
    model: Any
    metrics: dict[str, float] = field(default_factory=dict)


def ranking_metrics(
    model: Any, train: Interactions, test: Interactions, k: int
) -> dict[str, float]:
    items, _ = top_n(model.score, train.n_users, k, exclude=train.matrix())
    relevant = test.matrix()
    return {
        f"precision@{k}": precision_at_k(items, relevant, k),
        f"recall@{k}": recall_at_k(items, relevant, k),
        f"ndcg@{k}": ndcg_at_k(items, relevant, k),
        f"map@{k}": map_at_k(items, relevant, k),
        "coverage": catalogue_coverage(items, train.n_items),
    }


def train(
    data: Interactions,
    *,
    algorithm: str = "auto",
    params: dict[str, Any] | None = None,
    seed: int = 42,
    progress: Callable[[float], None] | None = None,
) -> list[Trained]:
    """EASE for top-N lists and SVD for predicted ratings ('auto' trains both)."""
    params = params or {}
    step = progress or (lambda _value: None)
    held_in, held_out = per_user_split(data, seed=seed)
    trained: list[Trained] = []
    if algorithm in ("auto", "ease"):
        probe = EASE(**params.get("ease", {}))
        probe.fit(held_in)
        metrics = ranking_metrics(probe, held_in, held_out, 10)
        step(0.3)
        final = EASE(l2=probe.params["l2"])
        final.fit(data)
        trained.append(Trained("ranking", "ease", final, metrics))
        step(0.5)
    if algorithm in ("auto", "svd"):
        probe_svd = SVDRatings(**params.get("svd", {}))
        probe_svd.fit(held_in)
        predicted = probe_svd.predict_pairs(held_out.user_index, held_out.item_index)
        metrics = {"rmse": rmse(held_out.scores, predicted), "mae": mae(held_out.scores, predicted)}
        step(0.7)
        final_svd = SVDRatings(**params.get("svd", {}))
        final_svd.fit(data)
        trained.append(Trained("rating", "svd", final_svd, metrics))
        step(0.8)
    return trained


def better_or_equal(purpose: str, new: dict[str, float], active: dict[str, float] | None) -> bool:
    """Does the new version's guard figure match or beat the active version's?"""
    name, best = GUARD[purpose]
    if not active or name not in active:
        return True
    return best(new[name], active[name]) == new[name]


def strongest_reasons(
    model: EASE, history: sp.csr_matrix, items: npt.NDArray[np.int32]
) -> npt.NDArray[np.int64]:
    """For each recommended item, the user's rated item that pushed it most (-1: none).

    EASE's score is the sum of B[j, i] over the items j the user rated, so the
    largest term names the title the recommendation comes from.
    """
    weights, kept = model.weights, model.modelled_items
    position = np.full(history.shape[1], -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    reasons = np.full(items.shape, -1, dtype=np.int64)
    for user in range(items.shape[0]):
        rated = history.indices[history.indptr[user] : history.indptr[user + 1]]
        rated_pos = position[rated]
        rated, rated_pos = rated[rated_pos >= 0], rated_pos[rated_pos >= 0]
        wanted = items[user]
        wanted_pos = np.where(wanted >= 0, position[np.maximum(wanted, 0)], -1)
        if len(rated) == 0:
            continue
        ok = wanted_pos >= 0
        contributions = weights[np.ix_(rated_pos, wanted_pos[ok])]
        reasons[user, ok] = rated[np.argmax(contributions, axis=0)]
    return reasons


def similar_all(
    model: EASE, n: int, batch: int = 1024
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Every modelled item's n nearest items (rows of B), in blocks: (item, neighbours, scores).

    One argpartition per block instead of a full sort per item, so large catalogues
    stay in seconds.
    """
    weights, kept = model.weights, model.modelled_items
    size = len(kept)
    width = min(n, size - 1)
    neighbours = np.empty((size, max(width, 0)), dtype=np.int64)
    scores = np.empty((size, max(width, 0)), dtype=np.float32)
    for start in range(0, size, batch):
        block = np.array(weights[start : start + batch], dtype=np.float32)
        rows = np.arange(len(block))
        block[rows, start + rows] = -np.inf  # an item is not its own neighbour
        if width <= 0:
            continue
        part = np.argpartition(-block, width - 1, axis=1)[:, :width]
        part_scores = np.take_along_axis(block, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        neighbours[start : start + len(block)] = kept[np.take_along_axis(part, order, axis=1)]
        scores[start : start + len(block)] = np.take_along_axis(part_scores, order, axis=1)
    return kept.astype(np.int64), neighbours, scores
