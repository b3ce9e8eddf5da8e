"""Top-N lists: every user's, scored in batches (never one prediction per pair), and one
user's from a score vector (the per-rating refresh)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

ScoreFn = Callable[[npt.NDArray[np.int32]], npt.NDArray[np.floating]]


def top_n(
    scores_fn: ScoreFn,
    n_users: int,
    n: int,
    exclude: sp.spmatrix,
    batch: int = 1024,
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """The n best items per user, best first, leaving out the user's `exclude` items.

    `scores_fn(rows)` returns a (len(rows), n_items) score matrix for the internal
    user indices `rows`; `exclude` is users x items (the training interactions).
    Items scored -inf or NaN are never recommended either. Where fewer than n items
    remain, the list ends in slots with item -1 and score -inf. Ties keep the
    smaller item index first among the items that made the cut.
    """
    if n < 1 or batch < 1:
        raise ValueError("n and batch must be at least 1")
    seen = sp.csr_matrix(exclude)
    if seen.shape[0] != n_users:
        raise ValueError("exclude needs one row per user")
    items = np.full((n_users, n), -1, dtype=np.int32)
    best = np.full((n_users, n), -np.inf, dtype=np.float32)
    for start in range(0, n_users, batch):
        rows = np.arange(start, min(start + batch, n_users), dtype=np.int32)
        # A copy: the model's array is not ours to write -inf into.
        scores = np.array(scores_fn(rows), dtype=np.float32)
        if scores.shape != (len(rows), seen.shape[1]):
            raise ValueError("scores_fn returned the wrong shape")
        block = seen[start : start + len(rows)]
        scores[np.repeat(np.arange(len(rows)), np.diff(block.indptr)), block.indices] = -np.inf
        scores[np.isnan(scores)] = -np.inf
        width = min(n, scores.shape[1])
        if width < scores.shape[1]:
            cut = np.argpartition(-scores, width - 1, axis=1)[:, :width]
        else:
            cut = np.broadcast_to(np.arange(width), scores.shape)
        cut_scores = np.take_along_axis(scores, cut, axis=1)
        order = np.lexsort((cut, -cut_scores), axis=1)
        chosen = np.take_along_axis(cut, order, axis=1).astype(np.int32)
        chosen_scores = np.take_along_axis(cut_scores, order, axis=1)
        chosen[np.isneginf(chosen_scores)] = -1
        items[rows, :width] = chosen
        best[rows, :width] = chosen_scores
    return items, best


def top_k(scores: npt.NDArray[np.floating[Any]], k: int) -> npt.NDArray[np.intp]:
    """np.argsort(-scores, kind="stable")[:k] (ties to the lower index), without sorting
    every score: a partition finds the k-th best, and only those at least as good are sorted."""
    negated = -scores
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    if k >= len(negated):
        return np.argsort(negated, kind="stable")
    kth = np.partition(negated, k - 1)[k - 1]
    candidates = np.flatnonzero(negated <= kth)
    if len(candidates) < k:  # NaNs compare false; the full sort places them last
        return np.argsort(negated, kind="stable")[:k]
    return candidates[np.argsort(negated[candidates], kind="stable")[:k]]
