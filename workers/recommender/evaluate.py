"""Compare candidate models and the baselines on one data set, the same way each time.

Ratings accuracy: k-fold cross-validation (RMSE, MAE) for the models that predict
ratings. Top-N accuracy: a per-user 75/25 split; each user's list leaves out their
training items and every held-out item counts as relevant.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from workers.recommender.baselines import MostPopular, RandomItems
from workers.recommender.data import Interactions
from workers.recommender.metrics import (
    catalogue_coverage,
    mae,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)
from workers.recommender.model import RatingPredictor, Recommender
from workers.recommender.splits import kfold, per_user_split
from workers.recommender.top_n import top_n

ModelFactory = Callable[[], Recommender]
Progress = Callable[[float, str], None]


def baselines(seed: int = 42) -> dict[str, ModelFactory]:
    return {"most_popular": MostPopular, "random": lambda: RandomItems(seed)}


def _cross_validate(
    factory: ModelFactory, data: Interactions, folds: int, seed: int
) -> Iterator[tuple[float, float]]:
    """(RMSE, MAE) of each fold, as it finishes."""
    for train, test in kfold(data, folds, seed):
        model = factory()
        if not isinstance(model, RatingPredictor):
            raise TypeError("the factory stopped returning a rating model")
        model.fit(train)
        predicted = model.predict_pairs(test.user_index, test.item_index)
        yield rmse(test.scores, predicted), mae(test.scores, predicted)


def evaluate(
    candidates: Mapping[str, ModelFactory],
    data: Interactions,
    k: int = 10,
    seed: int = 42,
    progress: Progress | None = None,
    *,
    folds: int = 5,
    with_baselines: bool = True,
) -> list[dict[str, Any]]:
    """One row per model (candidates first, then the baselines), metrics as floats.

    A factory returns a new unfitted model each call (one per fold). `rmse`/`mae`
    are means over the folds, None for models that only rank; `params` are those
    of the model fitted on the ranking split (so EASE reports the l2 it chose).
    `progress(fraction, message)` is called after each fit.
    """
    runs = dict(candidates)
    if with_baselines:
        runs.update({name: f for name, f in baselines(seed).items() if name not in runs})
    predicts = {name: isinstance(factory(), RatingPredictor) for name, factory in runs.items()}
    total = sum(1 + (folds if predicts[name] else 0) for name in runs)
    done = 0

    def step(message: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done / total, message)

    train, test = per_user_split(data, seed=seed)
    seen = train.matrix()
    relevant = test.matrix()
    evaluated = np.flatnonzero(np.diff(relevant.indptr))
    rows = []
    for name, factory in runs.items():
        model = factory()
        started = time.perf_counter()
        model.fit(train)
        fitted = time.perf_counter()
        lists, _ = top_n(model.score, data.n_users, k, exclude=seen)
        row: dict[str, Any] = {
            "name": name,
            "params": model.params,
            "k": k,
            "precision": precision_at_k(lists, relevant, k),
            "recall": recall_at_k(lists, relevant, k),
            "ndcg": ndcg_at_k(lists, relevant, k),
            "map": map_at_k(lists, relevant, k),
            "coverage": catalogue_coverage(lists[evaluated], data.n_items),
            "fit_seconds": fitted - started,
            "top_n_seconds": time.perf_counter() - fitted,
            "rmse": None,
            "mae": None,
        }
        step(f"{name}: top-{k} on the per-user split")
        if predicts[name]:
            rmses, maes = [], []
            for fold_rmse, fold_mae in _cross_validate(factory, data, folds, seed):
                rmses.append(fold_rmse)
                maes.append(fold_mae)
                step(f"{name}: fold {len(rmses)}/{folds} RMSE {fold_rmse:.4f}")
            row.update(rmse=float(np.mean(rmses)), mae=float(np.mean(maes)), rmse_folds=rmses)
        rows.append(row)
    return rows
