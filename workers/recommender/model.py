"""What the evaluation and the tasks rely on a model to offer."""

from __future__ import annotations

from typing import Any, Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

from workers.recommender.data import Interactions


class Recommender(Protocol):
    """Fits on training interactions and scores items for its training users.

    `score(rows)` takes internal user indices of the training data and returns a
    new float32 matrix (len(rows) x n_items, the training data's item order); a
    higher score means a better recommendation, -inf means never recommend.
    """

    @property
    def params(self) -> dict[str, Any]: ...

    def fit(self, train: Interactions) -> None: ...

    def score(self, user_rows: npt.NDArray[np.int32]) -> npt.NDArray[np.float32]: ...

    def to_bytes(self) -> bytes: ...

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self: ...


@runtime_checkable
class RatingPredictor(Protocol):
    """A model whose scores are ratings, so RMSE and MAE mean something for it."""

    def predict_pairs(
        self, user_rows: npt.NDArray[np.int32], item_rows: npt.NDArray[np.int32]
    ) -> npt.NDArray[np.float32]: ...
