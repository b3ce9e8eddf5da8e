"""Accuracy of predicted ratings and of top-k lists against held-out items.

Ranking metrics take `recommended`, an int array (users x at least k) of item
indices where -1 marks an empty slot, and `relevant`, a users x items sparse
matrix whose stored entries are the held-out items (binary relevance). Row u of
one is user u of the other. Each metric is averaged over the users that have at
least one relevant item, the way Microsoft Recommenders' python_evaluation does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp


def rmse(truth: npt.ArrayLike, predicted: npt.ArrayLike) -> float:
    error = np.asarray(truth, np.float64) - np.asarray(predicted, np.float64)
    return float(np.sqrt(np.mean(error**2)))


def mae(truth: npt.ArrayLike, predicted: npt.ArrayLike) -> float:
    error = np.asarray(truth, np.float64) - np.asarray(predicted, np.float64)
    return float(np.mean(np.abs(error)))


@dataclass(frozen=True)
class _Hits:
    hits: npt.NDArray[np.bool_]  # evaluated users x k: is slot j relevant
    n_relevant: npt.NDArray[np.int64]  # per evaluated user
    k: int


def _hits(recommended: npt.NDArray[np.integer], relevant: sp.spmatrix, k: int) -> _Hits:
    if k < 1:
        raise ValueError("k must be at least 1")
    truth = sp.csr_matrix(relevant)
    if recommended.ndim != 2 or recommended.shape[0] != truth.shape[0]:
        raise ValueError("recommended needs one row per row of relevant")
    truth.sum_duplicates()  # sorted, unique keys below
    n_relevant = np.diff(truth.indptr).astype(np.int64)
    users = np.flatnonzero(n_relevant)
    top = recommended[users, :k].astype(np.int64)
    rows = np.repeat(np.arange(truth.shape[0], dtype=np.int64), n_relevant)
    keys = rows * truth.shape[1] + truth.indices
    wanted = users[:, None] * truth.shape[1] + top
    hits = (top >= 0) & np.isin(wanted, keys)
    if hits.shape[1] < k:  # shorter lists: the missing slots are misses
        hits = np.pad(hits, ((0, 0), (0, k - hits.shape[1])))
    return _Hits(hits=hits, n_relevant=n_relevant[users], k=k)


def _mean(per_user: npt.NDArray[np.float64]) -> float:
    return float(per_user.mean()) if len(per_user) else 0.0


def precision_at_k(
    recommended: npt.NDArray[np.integer], relevant: sp.spmatrix, k: int = 10
) -> float:
    """Hits in the first k slots / k (a shorter list cannot reach 1)."""
    h = _hits(recommended, relevant, k)
    return _mean(h.hits.sum(axis=1) / k)


def recall_at_k(recommended: npt.NDArray[np.integer], relevant: sp.spmatrix, k: int = 10) -> float:
    """Hits in the first k slots / the user's relevant items."""
    h = _hits(recommended, relevant, k)
    return _mean(h.hits.sum(axis=1) / h.n_relevant)


def ndcg_at_k(recommended: npt.NDArray[np.integer], relevant: sp.spmatrix, k: int = 10) -> float:
    """DCG of the list over the DCG of min(k, |relevant|) hits in the first slots."""
    h = _hits(recommended, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)[np.minimum(h.n_relevant, k) - 1]
    return _mean((h.hits * discounts).sum(axis=1) / ideal)


def map_at_k(recommended: npt.NDArray[np.integer], relevant: sp.spmatrix, k: int = 10) -> float:
    """Mean average precision as Microsoft Recommenders' `map_at_k` defines it.

    A user's AP@k is the sum of the precision at each hit's rank (hits so far /
    rank) over the first k slots, divided by min(|relevant|, k).
    """
    h = _hits(recommended, relevant, k)
    ranks = np.arange(1, k + 1)
    precision_at_hits = np.where(h.hits, np.cumsum(h.hits, axis=1) / ranks, 0.0)
    return _mean(precision_at_hits.sum(axis=1) / np.minimum(h.n_relevant, k))


def catalogue_coverage(recommended: npt.NDArray[np.integer], n_items: int) -> float:
    """Share of the n_items catalogue that appears in at least one list."""
    if n_items < 1:
        raise ValueError("n_items must be at least 1")
    shown = np.unique(recommended[recommended >= 0])
    return len(shown) / n_items
