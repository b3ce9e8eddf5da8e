"""Baselines every real model has to beat: most popular and random items."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt

from workers.recommender.artifact import pack, unpack
from workers.recommender.data import Interactions


class MostPopular:
    """Everyone gets the items with the most ratings in the training data."""

    def __init__(self) -> None:
        self.counts = np.empty(0, dtype=np.float32)

    @property
    def params(self) -> dict[str, Any]:
        return {}

    def fit(self, train: Interactions) -> None:
        self.counts = np.bincount(train.item_index, minlength=train.n_items).astype(np.float32)

    def score(self, user_rows: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        return np.tile(self.counts, (len(user_rows), 1))

    def to_bytes(self) -> bytes:
        return pack("most_popular", {}, {"counts": self.counts})

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        _, arrays = unpack(blob, "most_popular")
        model = cls()
        model.counts = arrays["counts"]
        return model


class RandomItems:
    """Uniformly random scores; a user's scores depend only on the seed and the user."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.n_items = 0

    @property
    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def fit(self, train: Interactions) -> None:
        self.n_items = train.n_items

    def score(self, user_rows: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]:
        scores = np.empty((len(user_rows), self.n_items), dtype=np.float32)
        for j, user in enumerate(np.asarray(user_rows).tolist()):
            scores[j] = np.random.default_rng((self.seed, user)).random(self.n_items, np.float32)
        return scores

    def to_bytes(self) -> bytes:
        return pack("random", {"seed": self.seed, "n_items": self.n_items}, {})

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        params, _ = unpack(blob, "random")
        model = cls(params["seed"])
        model.n_items = params["n_items"]
        return model
