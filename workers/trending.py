"""Trending scores: a time-decayed sum of recent events per item. Pure NumPy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def decayed_scores(
    item_ids: npt.NDArray[np.int64],
    ages_s: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    *,
    half_life_s: float,
    limit: int,
) -> list[tuple[int, float]]:
    """Each event adds weight * 2^(-age/half_life) to its item; the top `limit` items.

    Ties break on the smaller item id so that the ranking is stable.
    """
    if len(item_ids) == 0:
        return []
    if not (len(item_ids) == len(ages_s) == len(weights)):
        raise ValueError("item_ids, ages_s and weights must have the same length")
    contributions = weights * np.exp2(-np.maximum(ages_s, 0.0) / half_life_s)
    items, inverse = np.unique(item_ids, return_inverse=True)
    totals = np.bincount(inverse, weights=contributions, minlength=len(items))
    order = np.lexsort((items, -totals))[:limit]
    return [(int(items[i]), float(totals[i])) for i in order if totals[i] > 0]
