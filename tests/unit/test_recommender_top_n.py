from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest
import scipy.sparse as sp

from workers.recommender.top_n import top_k, top_n


def random_case(n_users: int = 37, n_items: int = 23, seed: int = 5):
    rng = np.random.default_rng(seed)
    scores = rng.random((n_users, n_items)).astype(np.float32)
    exclude = sp.random(n_users, n_items, density=0.4, random_state=seed, format="csr")
    return scores, exclude


def test_lists_are_the_best_unexcluded_items_in_order() -> None:
    scores, exclude = random_case()
    items, best = top_n(lambda rows: scores[rows], len(scores), 5, exclude, batch=8)
    seen = exclude.toarray() != 0
    for user in range(len(scores)):
        allowed = np.flatnonzero(~seen[user])
        expected = allowed[np.argsort(-scores[user, allowed], kind="stable")][:5]
        assert items[user].tolist() == expected.tolist()
        assert np.array_equal(best[user], scores[user, expected])


def test_excluded_items_never_come_back_even_when_they_score_best() -> None:
    scores, exclude = random_case(seed=9)
    boosted = scores + 10 * (exclude.toarray() != 0)
    items, _ = top_n(lambda rows: boosted[rows], len(scores), 10, exclude, batch=4)
    for user in range(len(scores)):
        listed = items[user][items[user] >= 0]
        assert not set(listed.tolist()) & set(exclude[user].indices.tolist())


def test_short_of_items_the_list_is_padded_and_the_scorer_is_not_written() -> None:
    scores = np.array([[3.0, 2.0, 1.0], [1.0, np.nan, -np.inf]], dtype=np.float32)
    before = scores.copy()
    exclude = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 0]]))
    items, best = top_n(lambda rows: scores[rows], 2, 5, exclude)
    assert items.tolist() == [[1, 2, -1, -1, -1], [0, -1, -1, -1, -1]]
    assert best[0, :2].tolist() == [2.0, 1.0] and np.isneginf(best[0, 2:]).all()
    assert np.array_equal(scores, before, equal_nan=True)


def test_batch_size_does_not_change_the_result_and_ties_prefer_small_indices() -> None:
    scores = np.tile(np.array([1.0, 2.0, 2.0, 0.5], np.float32), (9, 1))
    exclude = sp.csr_matrix((9, 4))
    one, _ = top_n(lambda rows: scores[rows], 9, 3, exclude, batch=1)
    many, _ = top_n(lambda rows: scores[rows], 9, 3, exclude, batch=1024)
    assert np.array_equal(one, many)
    assert one[0].tolist() == [1, 2, 0]


@pytest.mark.parametrize("seed", range(6))
def test_top_k_is_the_head_of_a_stable_full_sort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    scores = rng.integers(0, 6, n).astype(np.float32)  # many ties
    scores[rng.random(n) < 0.3] = -np.inf  # rated or unmodelled
    if seed % 2:
        scores[rng.random(n) < 0.05] = np.nan
    for k in (0, 1, 5, 50, n - 1, n, n + 3):
        npt.assert_array_equal(top_k(scores, k), np.argsort(-scores, kind="stable")[: max(k, 0)])
    continuous = rng.normal(size=n)
    npt.assert_array_equal(top_k(continuous, 50), np.argsort(-continuous, kind="stable")[:50])
