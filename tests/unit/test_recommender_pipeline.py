from __future__ import annotations

import numpy as np
import pytest

from workers.recommender.data import Interactions
from workers.recommender.ease import EASE
from workers.recommender.pipeline import better_or_equal, similar_all, strongest_reasons
from workers.recommender.top_n import top_n


def two_groups() -> Interactions:
    """Users 0-19 like items 0-9, users 20-39 like items 10-19."""
    users, items = [], []
    rng = np.random.default_rng(0)
    for user in range(40):
        base = 0 if user < 20 else 10
        for item in rng.choice(np.arange(base, base + 10), size=6, replace=False):
            users.append(user + 1)
            items.append(item + 100)
    return Interactions.from_arrays(users, items, np.full(len(users), 4.0))


def test_similar_all_matches_the_per_item_answer() -> None:
    model = EASE(l2=10.0)
    data = two_groups()
    model.fit(data)
    sources, neighbours, scores = similar_all(model, 5, batch=7)
    for source, row, row_scores in zip(sources, neighbours, scores, strict=True):
        expected = model.similar(int(source), 5)
        assert [int(i) for i in row] == [i for i, _ in expected]
        assert row_scores == pytest.approx([s for _, s in expected])
        assert source not in row
        # Neighbours come from the same taste group.
        assert all((i < 10) == (source < 10) for i in row)


def test_reasons_name_a_rated_item_of_the_same_group() -> None:
    model = EASE(l2=10.0)
    data = two_groups()
    model.fit(data)
    history = data.matrix()
    items, _ = top_n(model.score, data.n_users, 3, exclude=history)
    reasons = strongest_reasons(model, history, items)
    for user in range(data.n_users):
        rated = set(history.indices[history.indptr[user] : history.indptr[user + 1]])
        assert set(reasons[user]) <= rated
        assert all((r < 10) == (user < 20) for r in reasons[user])


def test_guard_directions() -> None:
    assert better_or_equal("ranking", {"ndcg@10": 0.5}, {"ndcg@10": 0.4})
    assert not better_or_equal("ranking", {"ndcg@10": 0.3}, {"ndcg@10": 0.4})
    assert better_or_equal("rating", {"rmse": 0.9}, {"rmse": 0.95})
    assert not better_or_equal("rating", {"rmse": 1.0}, {"rmse": 0.95})
    assert better_or_equal("rating", {"rmse": 1.0}, None)
