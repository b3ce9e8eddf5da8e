from __future__ import annotations

import numpy as np
import pytest

from workers.recommender.data import Interactions


def small() -> Interactions:
    return Interactions.from_arrays([30, 10, 30, 20], [7, 5, 5, 9], [4.0, 0.5, 3.5, 5.0])


def test_ids_are_indexed_in_sorted_order_and_rows_keep_input_order() -> None:
    data = small()
    assert data.users.tolist() == [10, 20, 30]
    assert data.items.tolist() == [5, 7, 9]
    assert data.user_index.tolist() == [2, 0, 2, 1]
    assert data.item_index.tolist() == [1, 0, 0, 2]
    assert data.user_index.dtype == np.int32 and data.item_index.dtype == np.int32
    assert data.scores.dtype == np.float32
    assert (data.n_users, data.n_items, len(data)) == (3, 3, 4)


def test_matrix_binary_or_values() -> None:
    data = small()
    binary = data.matrix()
    assert binary.dtype == np.float32 and binary.shape == (3, 3)
    assert binary.toarray().tolist() == [[1, 0, 0], [0, 0, 1], [1, 1, 0]]
    assert data.matrix(binary=False).toarray().tolist() == [
        [0.5, 0, 0],
        [0, 0, 5.0],
        [3.5, 4.0, 0],
    ]


def test_take_keeps_the_index_space_and_arrays_are_read_only() -> None:
    data = small()
    part = data.take(np.array([0, 3]))
    assert part.users is data.users and part.items is data.items
    assert part.matrix().shape == (3, 3)
    assert part.user_index.tolist() == [2, 1]
    with pytest.raises(ValueError):
        part.scores[0] = 1.0


@pytest.mark.parametrize(
    ("users", "items", "scores", "message"),
    [
        ([1, 1], [2, 2], [3.0, 4.0], "more than once"),
        ([1, 2], [2], [3.0, 4.0], "same length"),
        ([1], [2], [float("nan")], "finite"),
        ([[1]], [[2]], [[3.0]], "one-dimensional"),
    ],
)
def test_bad_input_is_refused(users, items, scores, message) -> None:
    with pytest.raises(ValueError, match=message):
        Interactions.from_arrays(users, items, scores)
