"""Synthetic ratings with planted structure, for tests and scaling benchmarks.

Users have latent tastes; which items a user rates depends on item popularity
(Zipf-like) and on taste, and the rating itself on biases plus taste, so both a
top-N model and a rating model have something real to recover.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Planted:
    user_ids: npt.NDArray[np.int64]
    item_ids: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]
    noiseless: npt.NDArray[np.float32]  # the rating before noise and rounding


def planted_ratings(
    n_users: int,
    n_items: int,
    n_ratings: int,
    *,
    rank: int = 8,
    zipf: float = 0.7,
    taste: float = 4.0,
    noise: float = 0.5,
    seed: int = 0,
    batch: int = 512,
) -> Planted:
    """About `n_ratings` distinct (user, item) ratings in half steps from 0.5 to 5.0.

    Item i is picked with odds popularity_i · exp(taste · <u, v_i>), without
    repeats per user (Gumbel top-k); activity per user is log-normal, at least 1.
    Raw ids are 1-based, as database ids are.
    """
    rng = np.random.default_rng(seed)
    user_vectors = rng.normal(0, 1 / np.sqrt(rank), (n_users, rank)).astype(np.float32)
    item_vectors = rng.normal(0, 1 / np.sqrt(rank), (n_items, rank)).astype(np.float32)
    log_popularity = (-zipf * np.log(rng.permutation(n_items) + 1.0)).astype(np.float32)
    expected = rng.lognormal(0.0, 1.0, n_users)
    expected *= n_ratings / expected.sum()
    per_user = np.floor(expected).astype(np.int64)
    short = max(0, n_ratings - int(per_user.sum()))  # largest remainders round up
    per_user[np.argsort(per_user - expected)[:short]] += 1
    per_user = np.clip(per_user, 1, n_items)
    user_bias = rng.normal(0, 0.4, n_users).astype(np.float32)
    item_bias = rng.normal(0, 0.4, n_items).astype(np.float32)

    users, items, truths = [], [], []
    for start in range(0, n_users, batch):
        rows = np.arange(start, min(start + batch, n_users))
        affinity = user_vectors[rows] @ item_vectors.T
        keys = log_popularity + taste * affinity + rng.gumbel(size=affinity.shape)
        for j, user in enumerate(rows):
            # A copy, not a view: a view would keep the whole row's argpartition
            # (n_items entries) alive for every user.
            chosen = np.argpartition(-keys[j], per_user[user] - 1)[: per_user[user]].copy()
            users.append(np.full(len(chosen), user))
            items.append(chosen)
            truths.append(3.5 + user_bias[user] + item_bias[chosen] + 2.0 * affinity[j, chosen])
    user_index = np.concatenate(users)
    item_index = np.concatenate(items)
    noiseless = np.concatenate(truths).astype(np.float32)
    noisy = noiseless + rng.normal(0, noise, len(noiseless))
    scores = np.clip(np.round(noisy * 2) / 2, 0.5, 5.0).astype(np.float32)
    order = rng.permutation(len(scores))  # input order carries no information
    return Planted(
        user_ids=user_index[order].astype(np.int64) + 1,
        item_ids=item_index[order].astype(np.int64) + 1,
        scores=scores[order],
        noiseless=noiseless[order],
    )
