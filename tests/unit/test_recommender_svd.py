from __future__ import annotations

import numpy as np
import pytest

from workers.recommender.data import Interactions
from workers.recommender.metrics import rmse
from workers.recommender.splits import per_user_split
from workers.recommender.svd import SVDRatings, trainset
from workers.recommender.synthetic import planted_ratings

FAST = {"n_factors": 16, "n_epochs": 60, "lr_all": 0.01, "reg_all": 0.05}


def planted(seed: int = 1) -> Interactions:
    p = planted_ratings(300, 200, 15_000, seed=seed)
    return Interactions.from_arrays(p.user_ids, p.item_ids, p.scores)


@pytest.fixture(scope="module")
def fitted() -> tuple[SVDRatings, Interactions, Interactions]:
    train, test = per_user_split(planted())
    model = SVDRatings(**FAST)
    model.fit(train)
    return model, train, test


def test_predicts_held_out_ratings_far_better_than_the_mean(fitted) -> None:
    model, train, test = fitted
    baseline = rmse(test.scores, np.full(len(test), train.scores.mean()))
    assert rmse(test.scores, model.predict_pairs(test.user_index, test.item_index)) < 0.8 * baseline


def test_bulk_predictions_are_surprises_own(fitted) -> None:
    model, train, _ = fitted
    rows = np.array([0, 5, 123], dtype=np.int32)
    bulk = model.predict_matrix(rows)
    assert bulk.shape == (3, train.n_items) and bulk.dtype == np.float32
    for j, user in enumerate(rows.tolist()):
        for item in (0, 7, 150):
            expected = model.algo.predict(int(train.users[user]), int(train.items[item])).est
            assert bulk[j, item] == pytest.approx(expected, abs=1e-4)
            assert model.predict(user, item) == pytest.approx(expected, abs=1e-4)
    pairs = model.predict_pairs(np.repeat(rows, 2), np.tile([0, 7], 3).astype(np.int32))
    assert np.allclose(pairs, bulk[:, [0, 7]].ravel())
    assert np.allclose(model.score(rows).clip(*model.rating_range), bulk)


def test_round_trip_gives_identical_predictions(fitted) -> None:
    model, train, _ = fitted
    rows = np.arange(train.n_users, dtype=np.int32)
    loaded = SVDRatings.from_bytes(model.to_bytes())
    assert loaded.params == model.params and loaded.algo is None
    assert np.array_equal(loaded.predict_matrix(rows), model.predict_matrix(rows))
    assert np.array_equal(loaded.score(rows), model.score(rows))


def test_fold_in_of_own_ratings_lands_near_the_trained_user(fitted) -> None:
    model, train, _ = fitted
    users = np.flatnonzero(np.bincount(train.user_index) >= 40)[:5]
    for user in users:
        mine = train.user_index == user
        bias, factors = model.fold_in(train.item_index[mine], train.scores[mine])
        folded = model.global_mean + bias + model.item_bias + model.item_factors @ factors
        batch = model.score(np.array([user], np.int32))[0]
        assert np.corrcoef(folded, batch)[0, 1] > 0.98
        assert np.abs(folded - batch).mean() < 0.1


def test_unrated_items_predict_mean_plus_biases_and_similar_uses_cosine() -> None:
    data = planted(seed=2)
    lonely = Interactions.from_arrays(
        np.append(data.users[data.user_index], 1),
        np.append(data.items[data.item_index], 10_000),
        np.append(data.scores, 4.0),
    )
    train = lonely.take(np.arange(len(lonely) - 1))  # item 10_000 unrated in train
    model = SVDRatings(**FAST)
    model.fit(train)
    unrated = lonely.n_items - 1
    assert not model.item_factors[unrated].any()
    assert model.predict(3, unrated) == pytest.approx(model.global_mean + model.user_bias[3])
    assert model.similar(unrated, 3) == []
    similar = model.similar(0, 4)
    q = model.item_factors / np.linalg.norm(model.item_factors, axis=1, keepdims=True).clip(1e-12)
    cosine = q @ q[0]
    assert [i for i, _ in similar] == [i for i in np.argsort(-cosine) if i != 0][:4]


def test_trainset_uses_the_interaction_indices() -> None:
    data = Interactions.from_arrays([7, 7, 9], [3, 5, 5], [1.0, 2.0, 4.5])
    built = trainset(data)
    assert dict(built.ur) == {0: [(0, 1.0), (1, 2.0)], 1: [(1, 4.5)]}
    assert dict(built.ir) == {0: [(0, 1.0)], 1: [(0, 2.0), (1, 4.5)]}
    assert (built.n_users, built.n_items, built.n_ratings) == (2, 2, 3)
    assert built.rating_scale == (1.0, 4.5)
    assert built.to_inner_uid(9) == 1 and built.to_inner_iid(5) == 1


def test_unknown_parameters_fail_at_construction() -> None:
    with pytest.raises(TypeError):
        SVDRatings(n_factorz=3)
