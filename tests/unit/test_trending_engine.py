from __future__ import annotations

import numpy as np
import pytest

from workers.trending import decayed_scores

HOUR = 3600.0


def scores(items, ages, weights, limit=10, half_life=HOUR):
    return decayed_scores(
        np.array(items, dtype=np.int64),
        np.array(ages, dtype=np.float64),
        np.array(weights, dtype=np.float64),
        half_life_s=half_life,
        limit=limit,
    )


def test_one_half_life_halves_an_event() -> None:
    assert scores([7, 8], [0, HOUR], [1, 1]) == [(7, 1.0), (8, pytest.approx(0.5))]


def test_events_of_an_item_add_up_and_recent_beats_many_old() -> None:
    ranked = scores([1, 1, 2, 2, 2], [0, 0, 5 * HOUR, 5 * HOUR, 5 * HOUR], [1] * 5)
    assert [item for item, _ in ranked] == [1, 2]
    assert ranked[0][1] == pytest.approx(2.0)
    assert ranked[1][1] == pytest.approx(3 / 32)


def test_ties_break_on_the_smaller_id_and_limit_cuts() -> None:
    assert [i for i, _ in scores([9, 3, 5], [0, 0, 0], [1, 1, 1], limit=2)] == [3, 5]


def test_empty_and_mismatched_inputs() -> None:
    assert scores([], [], []) == []
    with pytest.raises(ValueError, match="same length"):
        scores([1, 2], [0], [1, 1])


def test_future_timestamps_do_not_inflate() -> None:
    assert scores([1], [-10 * HOUR], [1]) == [(1, 1.0)]
