"""Predicted ratings: scikit-surprise's SVD, then NumPy for everything after fit.

Surprise trains (its SGD is the tested, published one); the learned biases and
factors are copied into arrays in the Interactions' index order, so scoring all
users is one matrix product instead of a `predict` call per (user, item) pair.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from surprise import SVD, Trainset
from threadpoolctl import ThreadpoolController

from workers.recommender.artifact import pack, unpack
from workers.recommender.data import Interactions

# Surprise's own defaults, for comparisons ("what tuning bought").
SURPRISE_DEFAULTS: dict[str, Any] = {
    "n_factors": 100,
    "n_epochs": 20,
    "lr_all": 0.005,
    "reg_all": 0.02,
}
# Chosen by 5-fold cross-validation on MovieLens 100k (bench/recommender_eval.py
# --search; the grid and its results are in docs/BENCHMARKS.md). A fixed seed so
# that retraining on the same ratings gives the same model.
TUNED: dict[str, Any] = {
    "n_factors": 100,
    "n_epochs": 80,
    "lr_all": 0.005,
    "reg_all": 0.1,
    "random_state": 0,
}


@cache
def _blas() -> ThreadpoolController:
    """The BLAS libraries loaded by the first fold-in (NumPy's, which it uses, and SciPy's),
    found once: `threadpool_limits()` searches for them on every call (about 0.3 ms here,
    more than the fold-in's algebra); a held controller's `limit` takes about 12 us."""
    return ThreadpoolController()


def trainset(data: Interactions) -> Trainset:
    """A Surprise Trainset whose inner ids are the Interactions' indices.

    Built straight from the arrays (no DataFrame, no file). Users and items with
    no rating in `data` are counted but have no entry, as in Surprise's own.
    """
    ur: defaultdict[int, list[tuple[int, float]]] = defaultdict(list)
    ir: defaultdict[int, list[tuple[int, float]]] = defaultdict(list)
    by_user = np.argsort(data.user_index, kind="stable")
    users = data.user_index[by_user].tolist()
    items = data.item_index[by_user].tolist()
    scores = data.scores[by_user].tolist()
    for u, i, r in zip(users, items, scores, strict=True):
        ur[u].append((i, r))
        ir[i].append((u, r))
    return Trainset(
        ur,
        ir,
        data.n_users,
        data.n_items,
        len(data),
        (float(data.scores.min()), float(data.scores.max())) if len(data) else (0.5, 5.0),
        {int(raw): inner for inner, raw in enumerate(data.users.tolist())},
        {int(raw): inner for inner, raw in enumerate(data.items.tolist())},
    )


class SVDRatings:
    """Biased matrix factorisation; keyword arguments go to `surprise.SVD`.

    Anything not given comes from TUNED; pass SURPRISE_DEFAULTS for Surprise's
    out-of-the-box model. Ratings are clipped to the training data's range (as
    Surprise clips to its rating scale); `score` is the unclipped value, so that
    top-N ranking does not tie every item above the top of the scale.
    """

    def __init__(self, **surprise_params: Any) -> None:
        self._params = {**TUNED, **surprise_params}
        SVD(**self._params)  # unknown names fail here, not after a data load
        self.algo: SVD | None = None  # Surprise's fitted model; None after from_bytes
        self.global_mean = 0.0
        self.rating_range = (0.5, 5.0)
        self.user_bias = np.empty(0, dtype=np.float32)
        self.item_bias = np.empty(0, dtype=np.float32)
        self.user_factors = np.empty((0, 0), dtype=np.float32)
        self.item_factors = np.empty((0, 0), dtype=np.float32)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def fit(self, train: Interactions) -> None:
        surprise_train = trainset(train)
        self.algo = SVD(**self._params).fit(surprise_train)
        self.global_mean = float(surprise_train.global_mean)
        self.rating_range = surprise_train.rating_scale
        # Users and items without a training rating kept their random start
        # vectors (SGD never touched them); zero them, so that their prediction is
        # the mean plus biases, which is what Surprise predicts for unknowns.
        rated_users = np.bincount(train.user_index, minlength=train.n_users) > 0
        rated_items = np.bincount(train.item_index, minlength=train.n_items) > 0
        self.user_bias = self.algo.bu.astype(np.float32)
        self.item_bias = self.algo.bi.astype(np.float32)
        self.user_factors = self.algo.pu.astype(np.float32) * rated_users[:, None]
        self.item_factors = self.algo.qi.astype(np.float32) * rated_items[:, None]

    def score(self, user_rows: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        """Unclipped predicted ratings of every item for these users."""
        scores = self.user_factors[user_rows] @ self.item_factors.T
        scores += self.item_bias
        scores += (self.global_mean + self.user_bias[user_rows])[:, None]
        return scores

    def predict_matrix(self, user_rows: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        """mu + bu + bi + P·Qᵀ for these users and every item, clipped."""
        return np.clip(self.score(user_rows), *self.rating_range)

    def predict_pairs(
        self, user_rows: npt.NDArray[np.int32], item_rows: npt.NDArray[np.int32]
    ) -> npt.NDArray[np.float32]:
        """Clipped predicted ratings of (user_rows[j], item_rows[j]) pairs."""
        dots = np.einsum("ij,ij->i", self.user_factors[user_rows], self.item_factors[item_rows])
        raw = self.global_mean + self.user_bias[user_rows] + self.item_bias[item_rows] + dots
        return np.clip(raw, *self.rating_range).astype(np.float32)

    def predict(self, user_row: int, item_row: int) -> float:
        """One clipped predicted rating (scalar arithmetic: no arrays to build per call)."""
        raw = (
            self.global_mean
            + self.user_bias[user_row]
            + self.item_bias[item_row]
            + self.user_factors[user_row] @ self.item_factors[item_row]
        )
        low, high = self.rating_range
        return float(min(max(raw, low), high))

    def fold_in(
        self, item_rows: npt.NDArray[np.integer[Any]], scores: npt.ArrayLike
    ) -> tuple[float, npt.NDArray[np.float32]]:
        """A user's bias and factors from their ratings, the items held fixed.

        Ridge least squares on the objective SVD's SGD minimises: squared error
        plus, per rating, reg_bu·b² + reg_pu·|p|². The user's predicted ratings are
        then global_mean + bias + item_bias + item_factors @ factors.
        """
        items = np.asarray(item_rows, dtype=np.int64)
        target = np.asarray(scores, dtype=np.float64)
        n_factors = self.item_factors.shape[1]
        if len(items) == 0:
            return 0.0, np.zeros(n_factors, dtype=np.float32)
        factors = self.item_factors[items].astype(np.float64)
        residual = target - self.global_mean - self.item_bias[items]
        # The normal equations of the design [1 | factors], assembled by blocks rather
        # than by building the design and a diagonal penalty matrix.
        normal = np.empty((n_factors + 1, n_factors + 1))
        rhs = np.empty(n_factors + 1)
        diagonal = np.arange(1, n_factors + 1)
        # Threaded OpenBLAS wakes its other threads for a 100 x 100 product, and they
        # then spin waiting for more work: in a worker doing one fold-in per job, that
        # cost several times the fold-in. Here BLAS runs on the calling thread alone,
        # and the count goes back on leaving, so training keeps all its threads.
        with _blas().limit(limits=1, user_api="blas"):
            normal[0, 0] = len(items) * (1.0 + self._reg("reg_bu"))
            normal[0, 1:] = normal[1:, 0] = factors.sum(axis=0)
            normal[1:, 1:] = factors.T @ factors
            normal[diagonal, diagonal] += self._reg("reg_pu") * len(items)
            rhs[0] = residual.sum()
            rhs[1:] = residual @ factors
            solution = np.linalg.solve(normal, rhs)
        return float(solution[0]), solution[1:].astype(np.float32)

    def _reg(self, name: str) -> float:
        value = self._params.get(name)
        return float(self._params.get("reg_all", 0.02) if value is None else value)

    def similar(self, item_row: int, n: int) -> list[tuple[int, float]]:
        """The n items whose factor vectors have the highest cosine with this one."""
        norms = np.linalg.norm(self.item_factors, axis=1)
        if n < 1 or norms[item_row] == 0:
            return []
        cosine = (self.item_factors @ self.item_factors[item_row]) / np.where(
            norms > 0, norms * norms[item_row], np.inf
        )
        cosine[item_row] = -np.inf
        cosine[norms == 0] = -np.inf
        best = np.argsort(-cosine, kind="stable")[:n]
        return [(int(i), float(cosine[i])) for i in best if np.isfinite(cosine[i])]

    def to_bytes(self) -> bytes:
        return pack(
            "svd",
            {
                "surprise": self._params,
                "global_mean": self.global_mean,
                "rating_range": list(self.rating_range),
            },
            {
                "user_bias": self.user_bias,
                "item_bias": self.item_bias,
                "user_factors": self.user_factors,
                "item_factors": self.item_factors,
            },
        )

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        params, arrays = unpack(blob, "svd")
        model = cls(**params["surprise"])
        model.global_mean = float(params["global_mean"])
        low, high = params["rating_range"]
        model.rating_range = (float(low), float(high))
        model.user_bias = arrays["user_bias"]
        model.item_bias = arrays["item_bias"]
        model.user_factors = arrays["user_factors"]
        model.item_factors = arrays["item_factors"]
        return model
