from __future__ import annotations

import numpy as np
import pytest

from workers.datasets import GENRES
from workers.datasets.synthetic import DAY_S, RatingChunk, SyntheticCatalogue


def everything(chunks: list[RatingChunk]) -> RatingChunk:
    return RatingChunk(
        np.concatenate([c.users for c in chunks]),
        np.concatenate([c.titles for c in chunks]),
        np.concatenate([c.scores for c in chunks]),
        np.concatenate([c.timestamps for c in chunks]),
    )


def generated(**sizes: int) -> tuple[SyntheticCatalogue, RatingChunk]:
    catalogue = SyntheticCatalogue(**sizes)
    return catalogue, everything(list(catalogue.ratings()))


def test_shapes_and_catalogue() -> None:
    catalogue, ratings = generated(titles=300, users=400, ratings=12_000, seed=3)
    titles = catalogue.titles
    assert [t.source_id for t in titles] == [str(i) for i in range(1, 301)]
    assert all(1 <= len(t.genres) <= 3 and set(t.genres) <= set(GENRES) for t in titles)
    assert all(len(set(t.genres)) == len(t.genres) for t in titles)
    assert all(1920 <= (t.release_year or 0) <= 2025 and t.title for t in titles)
    assert len({t.title for t in titles}) == 300  # repeats became sequels
    assert len(ratings) == 12_000
    assert ratings.users.min() >= 1 and ratings.users.max() <= 400
    assert ratings.titles.min() >= 1 and ratings.titles.max() <= 300
    assert len(np.unique(ratings.users)) == 400  # ratings >= users: everyone rates
    assert ratings.users.dtype == ratings.titles.dtype == ratings.timestamps.dtype == np.int64


def test_scores_are_half_steps_between_half_and_five() -> None:
    _, ratings = generated(titles=200, users=300, ratings=10_000, seed=1)
    assert ratings.scores.min() >= 0.5 and ratings.scores.max() <= 5.0
    assert np.all(ratings.scores * 2 == np.round(ratings.scores * 2))
    assert len(np.unique(ratings.scores)) >= 8  # the whole scale is used
    assert 2.8 < ratings.scores.mean() < 4.2


def test_one_rating_per_user_and_title() -> None:
    _, ratings = generated(titles=50, users=200, ratings=6_000, seed=5, chunk_size=500)
    keys = ratings.users * 1_000 + ratings.titles
    assert len(np.unique(keys)) == len(keys) == 6_000


def test_a_full_matrix_is_possible() -> None:
    _, ratings = generated(titles=4, users=3, ratings=12, seed=0)
    assert sorted(zip(ratings.users.tolist(), ratings.titles.tolist(), strict=True)) == [
        (u, t) for u in (1, 2, 3) for t in (1, 2, 3, 4)
    ]


def test_the_seed_decides_everything() -> None:
    first_catalogue, first = generated(titles=100, users=150, ratings=3_000, seed=11)
    again_catalogue, again = generated(titles=100, users=150, ratings=3_000, seed=11)
    other_catalogue, other = generated(titles=100, users=150, ratings=3_000, seed=12)
    assert first_catalogue.titles == again_catalogue.titles
    for name in ("users", "titles", "scores", "timestamps"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
    assert first_catalogue.titles != other_catalogue.titles
    assert not np.array_equal(first.titles, other.titles)
    # ratings() starts afresh each time it is called
    assert np.array_equal(everything(list(first_catalogue.ratings())).scores, first.scores)


def test_popular_titles_get_most_ratings() -> None:
    _, ratings = generated(titles=500, users=1_000, ratings=30_000, seed=2)
    per_title = np.sort(np.bincount(ratings.titles, minlength=501)[1:])[::-1]
    top_tenth = per_title[:50].sum() / per_title.sum()
    assert top_tenth > 0.3  # uniform choice would give 0.1
    assert per_title[0] > 10 * max(int(np.median(per_title)), 1)


def test_users_differ_in_activity_and_taste() -> None:
    _, ratings = generated(titles=400, users=500, ratings=20_000, seed=4)
    per_user = np.bincount(ratings.users, minlength=501)[1:]
    assert per_user.max() > 5 * np.median(per_user)  # a long tail of heavy raters
    means = np.bincount(ratings.users, weights=ratings.scores) / np.maximum(
        np.bincount(ratings.users), 1
    )
    assert np.std(means[per_user.argsort()[-100:] + 1]) > 0.2  # users are not all alike


def test_chunks_are_bounded_and_timestamps_in_the_window() -> None:
    catalogue = SyntheticCatalogue(
        titles=1_000, users=5_000, ratings=100_000, seed=9, chunk_size=10_000, end=2_000_000_000
    )
    chunks = list(catalogue.ratings())
    assert len(chunks) >= 10
    heaviest_user = 1_000  # one user's ratings never split, and nobody rates more than all
    assert all(len(c) <= 10_000 + heaviest_user for c in chunks)
    ratings = everything(chunks)
    assert len(ratings) == 100_000
    assert len(np.unique(ratings.users * 10_000 + ratings.titles)) == 100_000
    assert ratings.timestamps.max() <= 2_000_000_000
    assert ratings.timestamps.min() > 2_000_000_000 - 3 * 365 * DAY_S


def test_rows_for_writers() -> None:
    catalogue = SyntheticCatalogue(titles=5, users=2, ratings=3, seed=0)
    (chunk,) = list(catalogue.ratings())
    rows = list(chunk.rows())
    assert len(rows) == 3
    assert all(isinstance(value, int) for row in rows for value in (row[0], row[1], row[3]))
    assert all(isinstance(row[2], float) for row in rows)


def test_fewer_ratings_than_users() -> None:
    _, ratings = generated(titles=10, users=100, ratings=40, seed=0)
    assert len(ratings) == 40


@pytest.mark.parametrize(
    "sizes",
    [
        {"titles": 0, "users": 1, "ratings": 0},
        {"titles": 3, "users": 2, "ratings": 7},
        {"titles": 3, "users": 2, "ratings": -1},
    ],
)
def test_impossible_sizes(sizes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        SyntheticCatalogue(**sizes)
