"""Ratings as contiguous indices: the one input every recommender engine takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    # The dataclass is frozen; read-only arrays keep its contents frozen too.
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Interactions:
    """Ratings of users on items, indexed 0..n-1 on both sides.

    `users` and `items` are the sorted raw (database) ids; `user_index[r]` and
    `item_index[r]` say where rating `r` sits in them. Subsets made with `take`
    (the splits) keep the parent's `users` and `items`, so every split of one data
    set shares one index space and a train row lines up with a test row.
    """

    users: npt.NDArray[np.int64]
    items: npt.NDArray[np.int64]
    user_index: npt.NDArray[np.int32]
    item_index: npt.NDArray[np.int32]
    scores: npt.NDArray[np.float32]

    @classmethod
    def from_arrays(
        cls,
        user_ids: npt.ArrayLike,
        item_ids: npt.ArrayLike,
        scores: npt.ArrayLike,
    ) -> Interactions:
        """Index raw ids; ratings keep their input order (the splits depend on it)."""
        raw_users = np.asarray(user_ids, dtype=np.int64)
        raw_items = np.asarray(item_ids, dtype=np.int64)
        values = np.asarray(scores, dtype=np.float32)
        if not (raw_users.ndim == raw_items.ndim == values.ndim == 1):
            raise ValueError("user_ids, item_ids and scores must be one-dimensional")
        if not (len(raw_users) == len(raw_items) == len(values)):
            raise ValueError("user_ids, item_ids and scores must have the same length")
        if not np.isfinite(values).all():
            raise ValueError("scores must be finite")
        users, user_index = np.unique(raw_users, return_inverse=True)
        items, item_index = np.unique(raw_items, return_inverse=True)
        pairs = user_index.astype(np.int64) * len(items) + item_index
        if len(np.unique(pairs)) != len(pairs):
            raise ValueError("a (user, item) pair occurs more than once")
        return cls(
            users=_frozen(users),
            items=_frozen(items),
            user_index=_frozen(user_index.astype(np.int32)),
            item_index=_frozen(item_index.astype(np.int32)),
            scores=_frozen(values),
        )

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, rows: npt.NDArray[np.integer[Any]]) -> Interactions:
        """The ratings at `rows`, in the same index space as this set."""
        return Interactions(
            users=self.users,
            items=self.items,
            user_index=_frozen(self.user_index[rows]),
            item_index=_frozen(self.item_index[rows]),
            scores=_frozen(self.scores[rows]),
        )

    def matrix(self, *, binary: bool = True) -> sp.csr_matrix:
        """users x items, float32: 1 for each rating, or the rating itself."""
        values = np.ones(len(self), np.float32) if binary else self.scores.copy()
        return sp.csr_matrix(
            (values, (self.user_index, self.item_index)),
            shape=(self.n_users, self.n_items),
            dtype=np.float32,
        )
