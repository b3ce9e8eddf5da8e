"""Synthetic viewing history: one view per viewer and title, never of a title a viewer
rated without a view of its own, to the end when completed, and further for liked titles."""

from __future__ import annotations

import numpy as np

from workers.datasets.synthetic import RatingChunk, SyntheticCatalogue
from workers.datasets.synthetic_views import COMPLETED, ViewChunk, durations, views


def all_views(
    per_rating: float,
) -> tuple[SyntheticCatalogue, list[RatingChunk], list[ViewChunk]]:
    catalogue = SyntheticCatalogue(titles=300, users=500, ratings=20_000, seed=3, chunk_size=4_000)
    lengths = durations(catalogue)
    rng = np.random.default_rng(11)
    chunks = list(catalogue.ratings())
    return catalogue, chunks, [views(catalogue, c, lengths, rng, per_rating) for c in chunks]


def test_views_are_unique_pairs_and_follow_or_add_to_ratings() -> None:
    catalogue, chunks, seen = all_views(0.5)
    n = catalogue.n_titles
    rated = {
        int(k): int(t)
        for c in chunks
        for k, t in zip(c.users * n + c.titles, c.timestamps, strict=True)
    }
    keys = np.concatenate([v.users * n + v.titles for v in seen])
    assert len(keys) == len(np.unique(keys))
    at = np.concatenate([v.timestamps for v in seen])
    followed = [(int(k), int(t)) for k, t in zip(keys, at, strict=True) if int(k) in rated]
    assert 0.6 < len(followed) / len(rated) < 0.8  # about 70% of ratings follow a view
    assert all(t < rated[k] for k, t in followed)  # the view comes first
    only_watched = len(keys) - len(followed)
    assert 0.3 * len(rated) < only_watched < 0.6 * len(rated)


def test_completed_views_reach_the_end_and_liked_titles_are_watched_further() -> None:
    catalogue, chunks, seen = all_views(0.0)
    lengths = durations(catalogue)
    assert lengths.min() >= 70 * 60 and lengths.max() <= 180 * 60
    by_pair = {}
    for c in chunks:
        for k, s in zip(c.users * 10_000 + c.titles, c.scores, strict=True):
            by_pair[int(k)] = float(s)
    fractions: dict[float, list[float]] = {}
    for v in seen:
        length = lengths[v.titles - 1]
        assert np.array_equal(v.positions_s[v.completed], length[v.completed])
        assert (v.positions_s[~v.completed] < COMPLETED * length[~v.completed] + 0.1).all()
        for k, f in zip(v.users * 10_000 + v.titles, v.positions_s / length, strict=True):
            fractions.setdefault(by_pair[int(k)], []).append(float(f))
    low = np.mean([f for s, fs in fractions.items() if s <= 1.5 for f in fs])
    high = np.mean([f for s, fs in fractions.items() if s >= 4.5 for f in fs])
    assert high > low + 0.4


def test_the_same_seed_gives_the_same_views() -> None:
    first, second = all_views(0.5)[2], all_views(0.5)[2]
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a.users, b.users) and np.array_equal(a.positions_s, b.positions_s)
