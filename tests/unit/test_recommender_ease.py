from __future__ import annotations

import numpy as np
import pytest

from workers.recommender.baselines import MostPopular, RandomItems
from workers.recommender.data import Interactions
from workers.recommender.ease import EASE
from workers.recommender.metrics import ndcg_at_k
from workers.recommender.splits import per_user_split
from workers.recommender.svd import SVDRatings
from workers.recommender.synthetic import planted_ratings
from workers.recommender.top_n import top_n


def planted(seed: int = 1) -> Interactions:
    p = planted_ratings(300, 200, 12_000, taste=6.0, zipf=0.5, seed=seed)
    return Interactions.from_arrays(p.user_ids, p.item_ids, p.scores)


def ndcg(model, train: Interactions, test: Interactions) -> float:
    model.fit(train)
    lists, _ = top_n(model.score, train.n_users, 10, exclude=train.matrix())
    return ndcg_at_k(lists, test.matrix(), 10)


def test_weights_are_steck_closed_form() -> None:
    rng = np.random.default_rng(0)
    users, items = np.nonzero(rng.random((60, 25)) < 0.3)
    data = Interactions.from_arrays(users, items, np.ones(len(users)))
    model = EASE(l2=7.0)
    model.fit(data)
    x = data.matrix().toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 7.0 * np.eye(25))
    expected = np.eye(25) - p / np.diag(p)
    assert model.weights.dtype == np.float32
    np.testing.assert_allclose(model.weights, expected, atol=2e-5)
    np.testing.assert_allclose(model.score(np.arange(60, dtype=np.int32)), x @ expected, atol=1e-4)


def test_recovers_planted_tastes_better_than_the_baselines() -> None:
    train, test = per_user_split(planted())
    ease = ndcg(EASE(l2=50.0), train, test)
    assert ease > 2.5 * ndcg(RandomItems(0), train, test)
    assert ease > 1.3 * ndcg(MostPopular(), train, test)


def test_l2_is_chosen_on_the_training_data_from_the_grid() -> None:
    train, _ = per_user_split(planted())
    model = EASE(l2_grid=(5.0, 50.0, 5000.0))
    model.fit(train)
    scored = dict(model.params["validation_ndcg@10"])
    assert list(scored) == [5.0, 50.0, 5000.0]
    assert model.params["l2"] == max(scored, key=scored.__getitem__)


def test_round_trip_and_fold_in_reproduce_batch_scores_exactly() -> None:
    train, _ = per_user_split(planted(seed=2))
    model = EASE(l2=30.0)
    model.fit(train)
    rows = np.arange(train.n_users, dtype=np.int32)
    loaded = EASE.from_bytes(model.to_bytes())
    assert loaded.params == model.params
    assert np.array_equal(loaded.score(rows), model.score(rows))
    history = train.matrix()
    for user in (0, 17, 299):
        own = history[user].indices[::-1]  # order does not matter
        assert np.array_equal(model.fold_in(own), model.score(np.array([user], np.int32))[0])


def test_fold_in_many_is_each_rows_fold_in() -> None:
    data = planted(seed=5)
    model = EASE(l2=30.0, max_items=data.n_items - 7)  # some items not modelled
    model.fit(data)
    rng = np.random.default_rng(2)
    picks = [rng.choice(data.n_items, size, replace=False) for size in (0, 1, 9, 40)]
    together = model.fold_in_many(picks)
    assert together.shape == (len(picks), data.n_items)
    for row, items in zip(together, picks, strict=True):
        assert np.array_equal(row, model.fold_in(items))  # the same sums, bit for bit


def test_similar_is_the_fold_in_of_one_item() -> None:
    data = planted(seed=3)
    model = EASE(l2=30.0)
    model.fit(data)
    similar = model.similar(4, 5)
    scores = model.fold_in(np.array([4]))
    scores[4] = -np.inf
    assert [i for i, _ in similar] == np.argsort(-scores, kind="stable")[:5].tolist()
    assert [s for _, s in similar] == sorted((s for _, s in similar), reverse=True)


def test_above_max_items_only_the_most_rated_are_modelled() -> None:
    data = planted(seed=4)
    model = EASE(l2=30.0, max_items=50)
    model.fit(data)
    counts = np.bincount(data.item_index, minlength=data.n_items)
    assert len(model.modelled_items) == 50
    assert counts[model.modelled_items].min() >= np.delete(counts, model.modelled_items).max()
    lists, _ = top_n(model.score, data.n_users, 10, exclude=data.matrix())
    assert set(lists[lists >= 0].tolist()) <= set(model.modelled_items.tolist())
    rows = np.arange(data.n_users, dtype=np.int32)
    assert np.array_equal(EASE.from_bytes(model.to_bytes()).score(rows), model.score(rows))
    assert model.similar(int(np.delete(np.arange(data.n_items), model.modelled_items)[0]), 3) == []


def test_an_artifact_of_another_model_is_refused() -> None:
    model = SVDRatings(n_epochs=1, n_factors=2)
    model.fit(planted())
    with pytest.raises(ValueError, match="'svd' model"):
        EASE.from_bytes(model.to_bytes())
