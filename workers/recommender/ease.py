"""EASE (Steck 2019): an item-item weight matrix in closed form, for top-N lists.

B = I - P / diag(P) with P = (XᵀX + l2·I)⁻¹ on the binary users x items matrix X,
so a user's scores are x·B. It is one items x items float32 matrix: 4·n² bytes
(1.6 GB at 20,000 items) and an O(n³) Cholesky inverse (about a minute at 20,000
items on two cores). Above `max_items` it models only the most-rated items and
never recommends the others; see docs/BENCHMARKS.md for the measured costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.linalg import lapack

from workers.recommender.artifact import pack, unpack
from workers.recommender.data import Interactions
from workers.recommender.metrics import ndcg_at_k
from workers.recommender.splits import per_user_split
from workers.recommender.top_n import top_n

L2_GRID = (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
MAX_ITEMS = 20_000
VALIDATION_K = 10
_BLOCK_CELLS = 1 << 26  # 256 MB of float32 per block of the Gram matrix


def _gram(history: sp.csr_matrix) -> npt.NDArray[np.float32]:
    """XᵀX as a dense float32 matrix, built a block of rows at a time.

    The sparse product of the whole matrix would hold every co-occurring pair as a
    12-byte entry; at millions of ratings that is several times the dense size.
    """
    n = history.shape[1]
    by_item = sp.csr_matrix(history.T)
    gram = np.empty((n, n), dtype=np.float32)
    step = max(1, _BLOCK_CELLS // max(n, 1))
    for start in range(0, n, step):
        gram[start : start + step] = (by_item[start : start + step] @ history).toarray()
    return gram


def _mirror_upper(matrix: npt.NDArray[np.float32]) -> None:
    """Copy the upper triangle onto the lower one in place, a block at a time."""
    n = matrix.shape[0]
    step = 1024
    for start in range(0, n, step):
        stop = min(start + step, n)
        matrix[start:stop, :start] = matrix[:start, start:stop].T
        square = matrix[start:stop, start:stop]
        square[:] = np.triu(square) + np.triu(square, 1).T


def _weights(gram: npt.NDArray[np.float32], l2: float) -> npt.NDArray[np.float32]:
    """EASE's B from XᵀX, overwriting `gram` (one n x n matrix alive, not three)."""
    gram[np.diag_indices_from(gram)] += l2
    # gram.T is the same memory in Fortran order, so LAPACK works in place; its
    # lower triangle is the C-order upper one.
    factor, info = lapack.spotrf(gram.T, lower=True, clean=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky failed (info={info}); raise l2")
    inverse, info = lapack.spotri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"inverse failed (info={info})")
    weights: npt.NDArray[np.float32] = inverse.T
    _mirror_upper(weights)
    weights /= -np.diag(weights).copy()
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


def _validation_ndcg(
    history: sp.csr_matrix, relevant: sp.csr_matrix, weights: npt.NDArray[np.float32]
) -> float:
    def scores(rows: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        return np.asarray(history[rows] @ weights)

    lists, _ = top_n(scores, history.shape[0], VALIDATION_K, exclude=history)
    return ndcg_at_k(lists, relevant, VALIDATION_K)


def _most_rated(history: sp.csr_matrix, limit: int) -> npt.NDArray[np.int64]:
    """Indices of the `limit` most-rated items (ties to the smaller index), sorted."""
    if history.shape[1] <= limit:
        return np.arange(history.shape[1], dtype=np.int64)
    counts = np.bincount(history.indices, minlength=history.shape[1])
    return np.sort(np.argsort(-counts, kind="stable")[:limit])


class EASE:
    """Top-N model; `l2=None` picks l2 from `l2_grid` by NDCG@10 on a split of train."""

    def __init__(
        self,
        l2: float | None = None,
        *,
        l2_grid: Sequence[float] = L2_GRID,
        max_items: int = MAX_ITEMS,
        seed: int = 42,
    ) -> None:
        if l2 is not None and l2 <= 0:
            raise ValueError("l2 must be positive")
        self._l2 = l2
        self._grid = tuple(float(x) for x in l2_grid)
        self._max_items = max_items
        self._seed = seed
        self._validation: list[tuple[float, float]] = []
        self._n_items = 0
        self._kept = np.empty(0, dtype=np.int64)
        self._position = np.empty(0, dtype=np.int64)
        self._history = sp.csr_matrix((0, 0), dtype=np.float32)
        self._weights = np.empty((0, 0), dtype=np.float32)

    @property
    def params(self) -> dict[str, Any]:
        return {
            "l2": self._l2,
            "l2_grid": list(self._grid),
            "max_items": self._max_items,
            "seed": self._seed,
            "validation_ndcg@10": [[l2, ndcg] for l2, ndcg in self._validation],
        }

    @property
    def weights(self) -> npt.NDArray[np.float32]:
        """B over the modelled items (`modelled_items` gives their item indices)."""
        return self._weights

    @property
    def modelled_items(self) -> npt.NDArray[np.int64]:
        return self._kept

    def fit(self, train: Interactions) -> None:
        full = train.matrix(binary=True)
        kept = _most_rated(full, self._max_items)
        if self._l2 is None:
            self._l2 = self._choose_l2(train, kept)
        self._set_state(full[:, kept].tocsr(), kept, train.n_items)
        self._weights = _weights(_gram(self._history), self._l2)

    def _choose_l2(self, train: Interactions, kept: npt.NDArray[np.int64]) -> float:
        """Best l2 of the grid by NDCG@10 on a per-user split of the training data."""
        inner_train, inner_test = per_user_split(train, seed=self._seed)
        history = inner_train.matrix(binary=True)[:, kept].tocsr()
        relevant = inner_test.matrix(binary=True)[:, kept]
        gram = _gram(history)
        self._validation = [
            (l2, _validation_ndcg(history, relevant, _weights(gram.copy(), l2)))
            for l2 in self._grid
        ]
        return max(self._validation, key=lambda pair: pair[1])[0]

    def _set_state(self, history: sp.csr_matrix, kept: npt.NDArray[np.int64], n_items: int) -> None:
        self._history = history
        self._kept = kept
        self._n_items = n_items
        self._position = np.full(n_items, -1, dtype=np.int64)
        self._position[kept] = np.arange(len(kept))

    def _spread(self, modelled: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores over the modelled items -> over all items (-inf for the others)."""
        if len(self._kept) == self._n_items:
            return modelled
        scores = np.full((modelled.shape[0], self._n_items), -np.inf, dtype=np.float32)
        scores[:, self._kept] = modelled
        return scores

    def score(self, user_rows: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        return self._spread(np.asarray(self._history[user_rows] @ self._weights))

    def fold_in(self, item_rows: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.float32]:
        """Scores of all items for a user known only by the items they rated (x·B).

        The same sparse product as `score`, so a training user's own items give
        exactly their batch scores.
        """
        return self.fold_in_many([item_rows])[0]

    def fold_in_many(
        self, rated: Sequence[npt.NDArray[np.integer[Any]]]
    ) -> npt.NDArray[np.float32]:
        """`fold_in` of each user's rated item rows, in one product: row for row the
        same sums in the same order."""
        positions = [np.unique(self._position[np.asarray(r, dtype=np.int64)]) for r in rated]
        positions = [p[p >= 0] for p in positions]
        ends = np.cumsum([0, *map(len, positions)])
        modelled = sp.csr_matrix(
            (np.ones(ends[-1], np.float32), np.concatenate([np.empty(0, np.int64), *positions]),
             ends),
            shape=(len(rated), len(self._kept)),
        )  # fmt: skip
        return self._spread(np.asarray(modelled @ self._weights))

    def similar(self, item_row: int, n: int) -> list[tuple[int, float]]:
        """The n items with the highest score for someone who rated only `item_row`."""
        position = self._position[item_row]
        if position < 0 or n < 1:
            return []
        row = self._weights[position].copy()
        row[position] = -np.inf
        best = np.argsort(-row, kind="stable")[:n]
        return [(int(self._kept[p]), float(row[p])) for p in best if np.isfinite(row[p])]

    def to_bytes(self) -> bytes:
        return pack(
            "ease",
            {**self.params, "n_items": self._n_items, "n_users": self._history.shape[0]},
            {
                "weights": self._weights,
                "kept": self._kept,
                "indptr": self._history.indptr,
                "indices": self._history.indices,
            },
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        params, arrays = unpack(blob, "ease")
        model = cls(
            params["l2"],
            l2_grid=params["l2_grid"],
            max_items=params["max_items"],
            seed=params["seed"],
        )
        model._validation = [(float(a), float(b)) for a, b in params["validation_ndcg@10"]]
        indices = arrays["indices"]
        history = sp.csr_matrix(
            (np.ones(len(indices), np.float32), indices, arrays["indptr"]),
            shape=(params["n_users"], len(arrays["kept"])),
        )
        model._set_state(history, arrays["kept"], params["n_items"])
        model._weights = arrays["weights"]
        return model
