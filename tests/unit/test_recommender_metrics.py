from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from workers.recommender.metrics import (
    catalogue_coverage,
    mae,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    rmse,
)

LOG3 = np.log2(3)


def relevant(rows: list[list[int]], n_items: int = 10) -> sp.csr_matrix:
    users = [u for u, items in enumerate(rows) for _ in items]
    items = [i for row in rows for i in row]
    return sp.csr_matrix((np.ones(len(items)), (users, items)), shape=(len(rows), n_items))


# user 0: hit at rank 2 of 2 relevant; user 1: nothing relevant (not averaged);
# user 2: hit at rank 1 of 3 relevant.
LISTS = np.array([[0, 1, 2], [3, -1, -1], [4, 0, 1]])
TRUTH = relevant([[1, 4], [], [4, 2, 3]])


def test_rating_errors() -> None:
    assert rmse([1, 2, 3], [1, 3, 5]) == pytest.approx(np.sqrt(5 / 3))
    assert mae([1, 2, 3], [1, 3, 5]) == pytest.approx(1.0)


def test_precision_and_recall_by_hand() -> None:
    assert precision_at_k(LISTS, TRUTH, 3) == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert recall_at_k(LISTS, TRUTH, 3) == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_ndcg_ideal_is_over_min_of_k_and_relevant() -> None:
    user0 = (1 / LOG3) / (1 + 1 / LOG3)  # 2 relevant: ideal has 2 hits
    user2 = 1 / (1 + 1 / LOG3 + 1 / 2)  # 3 relevant, k = 3
    assert ndcg_at_k(LISTS, TRUTH, 3) == pytest.approx((user0 + user2) / 2)
    assert ndcg_at_k(LISTS, TRUTH, 1) == pytest.approx((0 + 1) / 2)


def test_map_divides_by_min_of_relevant_and_k() -> None:
    assert map_at_k(LISTS, TRUTH, 3) == pytest.approx((0.5 / 2 + 1 / 3) / 2)
    assert map_at_k(LISTS, TRUTH, 1) == pytest.approx((0 + 1 / 1) / 2)
    two_hits = np.array([[2, 5, 3]])
    assert map_at_k(two_hits, relevant([[2, 3, 9]]), 3) == pytest.approx((1 + 2 / 3) / 3)


def test_a_perfect_list_scores_one_and_short_lists_count_misses() -> None:
    perfect = np.array([[4, 1, 7]])
    truth = relevant([[1, 4]])
    assert ndcg_at_k(perfect, truth, 3) == pytest.approx(1.0)
    assert map_at_k(perfect, truth, 3) == pytest.approx(1.0)
    assert recall_at_k(perfect, truth, 3) == pytest.approx(1.0)
    assert precision_at_k(np.array([[4]]), truth, 3) == pytest.approx(1 / 3)


def test_coverage_counts_distinct_shown_items() -> None:
    assert catalogue_coverage(LISTS, 10) == pytest.approx(0.5)
    assert catalogue_coverage(np.full((2, 3), -1), 10) == 0.0


def test_no_relevant_items_anywhere_gives_zero_and_bad_shapes_fail() -> None:
    assert ndcg_at_k(LISTS, relevant([[], [], []]), 3) == 0.0
    with pytest.raises(ValueError, match="one row per row"):
        ndcg_at_k(LISTS[:2], TRUTH, 3)
