"""Viewing history for a synthetic catalogue (pure NumPy), one chunk of users at a time.

Most ratings follow a view of the same title, and viewers also watch titles they never
rate (`per_rating` of those per rating, drawn by popularity). How far a viewer gets
follows their taste: the score they gave, or the score they would give, maps to the
fraction watched, with noise; past 90% a view counts as completed. A view comes before
the rating that follows it. Title lengths are the catalogue's own (`durations`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workers.datasets.synthetic import DAY_S, RatingChunk, SyntheticCatalogue, first_per_user

RATED_AND_WATCHED = 0.7  # the share of ratings that follow a recorded view
COMPLETED = 0.9  # of a title's length


@dataclass(frozen=True)
class ViewChunk:
    """Parallel arrays; user and title numbers are 1-based, as in RatingChunk."""

    users: npt.NDArray[np.int64]
    titles: npt.NDArray[np.int64]
    positions_s: npt.NDArray[np.float64]
    completed: npt.NDArray[np.bool_]
    timestamps: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.users)


def durations(catalogue: SyntheticCatalogue) -> npt.NDArray[np.float64]:
    """Each title's length in seconds: 70 to 180 minutes, most near an hour and a half."""
    rng = np.random.default_rng([catalogue.seed, 3])
    minutes = np.clip(rng.normal(100, 20, catalogue.n_titles), 70, 180)
    return np.round(minutes * 60.0)


def views(
    catalogue: SyntheticCatalogue,
    chunk: RatingChunk,
    lengths: npt.NDArray[np.float64],
    rng: np.random.Generator,
    per_rating: float,
) -> ViewChunk:
    """The views of the users in `chunk` (a contiguous range, as `ratings()` yields)."""
    users0, titles0 = chunk.users - 1, chunk.titles - 1
    watched = rng.random(len(chunk)) < RATED_AND_WATCHED
    rated_u, rated_t = users0[watched], titles0[watched]
    rated_frac = _fraction(rng, chunk.scores[watched])
    rated_at = chunk.timestamps[watched] - rng.integers(60, 2 * DAY_S, len(rated_u))

    extra_u, extra_t = _unrated(catalogue, chunk, rng, per_rating)
    extra_frac = _fraction(rng, catalogue.expected(extra_u, extra_t))
    extra_at = catalogue.end - rng.integers(0, catalogue.span_s, len(extra_u))

    users = np.concatenate([rated_u, extra_u])
    titles = np.concatenate([rated_t, extra_t])
    fraction = np.concatenate([rated_frac, extra_frac])
    completed = fraction >= COMPLETED
    positions = np.where(completed, lengths[titles], np.round(fraction * lengths[titles], 1))
    timestamps = np.concatenate([rated_at, extra_at]).astype(np.int64)
    return ViewChunk(users + 1, titles + 1, positions, completed, timestamps)


def _fraction(rng: np.random.Generator, scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Liked titles are watched to the end more often: 5 stars about 95%, 1 star 20%."""
    return np.clip(0.1 + 0.19 * scores + rng.normal(0, 0.15, len(scores)), 0.02, 1.0)


def _unrated(
    catalogue: SyntheticCatalogue, chunk: RatingChunk, rng: np.random.Generator, per_rating: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Titles the chunk's users watched and did not rate (0-based)."""
    if per_rating <= 0 or not len(chunk):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    first, last = int(chunk.users.min()) - 1, int(chunk.users.max()) - 1
    users = np.arange(first, last + 1, dtype=np.int64)
    rated = np.bincount(chunk.users - 1 - first, minlength=len(users))
    room = catalogue.n_titles - rated
    wanted = np.minimum(rng.binomial(np.ceil(rated * per_rating * 2).astype(np.int64), 0.5), room)
    # Draw as many more as each user rated, drop the rated ones, keep `wanted` of the rest.
    drawn_u, drawn_t = catalogue.draw(rng, users, np.minimum(wanted + rated, catalogue.n_titles))
    n = catalogue.n_titles
    unrated = ~np.isin(drawn_u * n + drawn_t, (chunk.users - 1) * n + (chunk.titles - 1))
    keys, _ = first_per_user(drawn_u[unrated] * n + drawn_t[unrated], n, users, wanted)
    return keys // n, keys % n
