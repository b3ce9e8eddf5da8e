"""Train/test splits that reproduce the protocols the published figures use."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from workers.recommender.data import Interactions


def per_user_split(
    data: Interactions, test_fraction: float = 0.25, seed: int = 42
) -> tuple[Interactions, Interactions]:
    """Hold out `test_fraction` of each user's ratings, chosen at random.

    Follows Microsoft Recommenders' `python_stratified_split(ratio=1 - test_fraction)`:
    each rating draws `RandomState(seed).rand()` in input order, a user's ratings
    are ranked by that draw, and the ones whose rank / count is at most
    1 - test_fraction train (so a user with n ratings trains on floor(0.75 n) of
    them). Given the same rows in the same order it makes the same split as theirs.
    One difference: a user whose train share would be empty (a single rating at
    the default fraction) keeps everything in train, since with no history there
    is nothing to recommend from.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be between 0 and 1")
    # The legacy generator, because that is the stream the reference split draws.
    draws = np.random.RandomState(seed).rand(len(data))
    order = np.lexsort((draws, data.user_index))
    counts = np.bincount(data.user_index, minlength=data.n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sorted_users = data.user_index[order]
    position = np.arange(1, len(data) + 1) - starts[sorted_users]
    in_train = np.empty(len(data), dtype=bool)
    in_train[order] = position / counts[sorted_users] <= 1.0 - test_fraction
    train_counts = np.bincount(data.user_index[in_train], minlength=data.n_users)
    in_train |= train_counts[data.user_index] == 0
    return data.take(np.flatnonzero(in_train)), data.take(np.flatnonzero(~in_train))


def kfold(
    data: Interactions, k: int = 5, seed: int = 42
) -> Iterator[tuple[Interactions, Interactions]]:
    """k (train, test) pairs over all ratings, like Surprise's `KFold(k, random_state=seed)`.

    The ratings are shuffled once with `RandomState(seed)` and cut into k
    consecutive folds, the first `len % k` one rating longer; given the rows in
    the order Surprise read them, the folds are Surprise's.
    """
    if not 2 <= k <= len(data):
        raise ValueError("k must be at least 2 and at most the number of ratings")
    indices = np.arange(len(data))
    np.random.RandomState(seed).shuffle(indices)
    stop = 0
    for fold in range(k):
        start = stop
        stop = start + len(data) // k + (1 if fold < len(data) % k else 0)
        yield (
            data.take(np.sort(np.concatenate((indices[:start], indices[stop:])))),
            data.take(np.sort(indices[start:stop])),
        )
