"""A synthetic catalogue with users and ratings, seeded and vectorised (pure NumPy).

Titles get 1-3 genres and a year. Users have latent taste (factor vectors and a
genre affinity); which titles they rate follows a Zipf-like popularity, how many
a log-normal activity; each score is a clipped, half-step-rounded sum of biases,
the factor dot product, the genre affinity and noise. There is exactly one rating
per (user, title) pair. Ratings come in chunks of a bounded size, so a set of
millions of ratings never has to sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workers.datasets import GENRES, Title

DEFAULT_END = 1_767_225_600  # 2026-01-01T00:00:00Z: fixed, so a seed fixes everything
DAY_S = 86_400
_RANK = 8
_MEAN = 3.5
# How often each genre is drawn, relative to the others (Drama is common, IMAX rare).
_GENRE_WEIGHTS = {
    "Drama": 10.0,
    "Comedy": 8.0,
    "Action": 6.0,
    "Thriller": 6.0,
    "Romance": 5.0,
    "Adventure": 4.0,
    "Crime": 4.0,
    "Sci-Fi": 3.0,
    "Horror": 3.0,
    "Children's": 2.0,
    "Animation": 2.0,
    "Fantasy": 2.0,
    "Mystery": 2.0,
    "War": 1.5,
    "Documentary": 1.5,
    "Musical": 1.0,
    "Western": 1.0,
    "Film-Noir": 0.5,
    "IMAX": 0.3,
}
_ADJECTIVES = [
    "Silent",
    "Last",
    "Hidden",
    "Broken",
    "Golden",
    "Midnight",
    "Crimson",
    "Distant",
    "Lost",
    "Burning",
    "Frozen",
    "Secret",
    "Wild",
    "Endless",
    "Quiet",
    "Electric",
    "Hollow",
    "Northern",
    "Final",
    "Bright",
    "Savage",
    "Gentle",
    "Iron",
    "Velvet",
]
_NOUNS = [
    "River",
    "Garden",
    "Empire",
    "Harbor",
    "Signal",
    "Orchard",
    "Machine",
    "Kingdom",
    "Mirror",
    "Station",
    "Desert",
    "Circus",
    "Lighthouse",
    "Winter",
    "Archive",
    "Voyage",
    "Frontier",
    "Engine",
    "Shadow",
    "Island",
    "Letter",
    "Forest",
    "Comet",
    "Tide",
]
_PEOPLE = [
    "Anna",
    "Jonas",
    "Mira",
    "Felix",
    "Clara",
    "Omar",
    "Lena",
    "Victor",
    "Ruth",
    "Hugo",
    "Ines",
    "Bruno",
]
_SEQUELS = ("", " II", " III", " IV", " V")


@dataclass(frozen=True)
class RatingChunk:
    """Parallel arrays; user and title numbers are 1-based (the source ids)."""

    users: npt.NDArray[np.int64]
    titles: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float64]
    timestamps: npt.NDArray[np.int64]  # seconds since 1970, UTC

    def __len__(self) -> int:
        return len(self.scores)

    def rows(self) -> Iterator[tuple[int, int, float, int]]:
        return zip(
            self.users.tolist(),
            self.titles.tolist(),
            self.scores.tolist(),
            self.timestamps.tolist(),
            strict=True,
        )


class SyntheticCatalogue:
    """The model behind the data; `titles` and `ratings()` read it out."""

    def __init__(
        self,
        *,
        titles: int,
        users: int,
        ratings: int,
        seed: int = 0,
        end: int = DEFAULT_END,
        span_days: int = 3 * 365,
        chunk_size: int = 250_000,
        zipf: float = 1.0,
    ) -> None:
        if titles < 1 or users < 1:
            raise ValueError("titles and users must be at least 1")
        if not 0 <= ratings <= titles * users:
            raise ValueError(f"ratings must be between 0 and titles x users ({titles * users})")
        if chunk_size < 1 or span_days < 1:
            raise ValueError("chunk_size and span_days must be at least 1")
        self.n_titles, self.n_users, self.n_ratings = titles, users, ratings
        self.seed, self.end, self.span_s, self.chunk_size = seed, end, span_days * DAY_S, chunk_size
        rng = np.random.default_rng([seed, 0])
        self._genres = _genre_matrix(rng, titles)
        self._years = _years(rng, titles)
        self._names = _names(rng, titles)
        # Zipf-like popularity over a random order of the titles, with a small floor
        # so that every title can be drawn.
        zipf_weights = 1.0 / (rng.permutation(titles) + 1.0) ** zipf
        popularity = 0.9 * zipf_weights / zipf_weights.sum() + 0.1 / titles
        self._cdf = np.cumsum(popularity)
        self._cdf[-1] = 1.0
        self._item_factors = rng.normal(0, 1 / np.sqrt(_RANK), (titles, _RANK))
        self._item_bias = rng.normal(0, 0.35, titles)
        self._user_factors = rng.normal(0, 1 / np.sqrt(_RANK), (users, _RANK))
        self._user_bias = rng.normal(0, 0.3, users)
        self._affinity = rng.normal(0, 0.6, (users, len(GENRES)))
        self._activity = _activity(rng, users, titles, ratings)

    @property
    def titles(self) -> list[Title]:
        return [
            Title(str(i + 1), self._names[i], int(self._years[i]), _genre_names(self._genres[i]))
            for i in range(self.n_titles)
        ]

    def ratings(self) -> Iterator[RatingChunk]:
        """Chunks of at most about chunk_size ratings (one user's ratings never split)."""
        rng = np.random.default_rng([self.seed, 1])
        ends = np.cumsum(self._activity)
        start = 0
        while start < self.n_users:
            # Users start..stop-1 together rate about chunk_size titles.
            budget = (ends[start - 1] if start else 0) + self.chunk_size
            stop = max(start + 1, int(np.searchsorted(ends, budget, side="right")))
            users = np.arange(start, stop)
            start = stop
            wanted = self._activity[users]
            if wanted.sum() == 0:
                continue
            user_index, title_index = self.draw(rng, users, wanted)
            yield self._rate(rng, user_index, title_index)

    def draw(
        self, rng: np.random.Generator, users: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """`wanted[k]` distinct titles for each of `users` (0-based, a sorted contiguous
        range), drawn by popularity: (user indexes, title indexes)."""
        n = self.n_titles
        keys = np.empty(0, dtype=np.int64)  # user * n + title, unique
        have = np.zeros(len(users), dtype=np.int64)
        for _ in range(8):  # oversample, drop repeats, keep the first `wanted` per user
            short = wanted - have
            if not short.any():
                break
            draws = np.where(short > 0, np.ceil(short * 1.3).astype(np.int64) + 2, 0)
            drawn_users = np.repeat(users, draws)
            drawn = np.searchsorted(self._cdf, rng.random(len(drawn_users)), side="right")
            candidates = np.concatenate([keys, drawn_users * n + np.minimum(drawn, n - 1)])
            _, first = np.unique(candidates, return_index=True)
            candidates = candidates[np.sort(first)]  # kept pairs first, then draw order
            keys, have = first_per_user(candidates, n, users, wanted)
        short = wanted - have
        if short.any():  # heavy raters of a small catalogue: fill up uniformly
            extra = []
            for k in np.flatnonzero(short):
                rated = keys[keys // n == users[k]] % n
                free = np.setdiff1d(np.arange(n), rated)
                extra.append(users[k] * n + rng.choice(free, short[k], replace=False))
            keys = np.concatenate([keys, *extra])
        keys = keys[rng.permutation(len(keys))]
        return keys // n, keys % n

    def expected(
        self, users: npt.NDArray[np.int64], titles: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """The score each user would give each title before noise (0-based indexes)."""
        taste = np.einsum("ij,ij->i", self._user_factors[users], self._item_factors[titles])
        genres = self._genres[titles]
        genre_fit = np.einsum("ij,ij->i", self._affinity[users], genres) / np.maximum(
            genres.sum(axis=1), 1
        )
        return _MEAN + self._user_bias[users] + self._item_bias[titles] + 2.0 * taste + genre_fit

    def _rate(
        self,
        rng: np.random.Generator,
        users: npt.NDArray[np.int64],
        titles: npt.NDArray[np.int64],
    ) -> RatingChunk:
        raw = self.expected(users, titles) + rng.normal(0, 0.5, len(users))
        scores = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
        timestamps = self.end - rng.integers(0, self.span_s, len(users))
        return RatingChunk(users + 1, titles + 1, scores, timestamps.astype(np.int64))


def first_per_user(
    keys: npt.NDArray[np.int64],
    n: int,
    users: npt.NDArray[np.int64],
    wanted: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Keep each user's first `wanted` keys (in the given order); and how many each has."""
    slot = np.searchsorted(users, keys // n)  # users is a sorted, contiguous range
    order = np.argsort(slot, kind="stable")
    sorted_slot = slot[order]
    counts = np.bincount(sorted_slot, minlength=len(users))
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(order)) - starts[sorted_slot]
    kept = order[rank < wanted[sorted_slot]]
    return keys[np.sort(kept)], np.minimum(counts, wanted)


def _activity(
    rng: np.random.Generator, users: int, titles: int, ratings: int
) -> npt.NDArray[np.int64]:
    """Ratings per user: log-normal, summing to exactly `ratings`, none above `titles`."""
    weights = rng.lognormal(0.0, 1.0, users)
    counts = np.minimum(np.floor(ratings * weights / weights.sum()).astype(np.int64), titles)
    least = 1 if ratings >= users else 0
    counts = np.maximum(counts, least)
    while (gap := ratings - int(counts.sum())) != 0:
        if gap > 0:  # hand out the rest, heavier users first, up to the catalogue size
            room = np.flatnonzero(counts < titles)
            room = room[np.argsort(-weights[room], kind="stable")][:gap]
            counts[room] += 1
        else:  # take back from the heaviest, never below the least
            heavy = np.flatnonzero(counts > least)
            heavy = heavy[np.argsort(-counts[heavy], kind="stable")][:-gap]
            counts[heavy] -= 1
    return counts


def _genre_matrix(rng: np.random.Generator, titles: int) -> npt.NDArray[np.float64]:
    """0/1 rows, 1-3 genres each, drawn without repeats by the genre weights (Gumbel top-k)."""
    log_weights = np.log([_GENRE_WEIGHTS[g] for g in GENRES])
    keys = log_weights + rng.gumbel(size=(titles, len(GENRES)))
    ranks = np.argsort(np.argsort(-keys, axis=1), axis=1)
    how_many = rng.choice([1, 2, 3], size=titles, p=[0.5, 0.35, 0.15])
    return (ranks < how_many[:, None]).astype(np.float64)


def _genre_names(row: npt.NDArray[np.float64]) -> tuple[str, ...]:
    return tuple(GENRES[j] for j in np.flatnonzero(row))


def _years(rng: np.random.Generator, titles: int) -> npt.NDArray[np.int64]:
    """Mostly recent, with a long tail back to 1920."""
    return np.clip(2025 - np.floor(rng.exponential(15.0, titles)), 1920, 2025).astype(np.int64)


def _names(rng: np.random.Generator, titles: int) -> list[str]:
    adjectives = rng.integers(0, len(_ADJECTIVES), titles).tolist()
    nouns = rng.integers(0, len(_NOUNS), (titles, 2)).tolist()
    people = rng.integers(0, len(_PEOPLE), titles).tolist()
    patterns = rng.integers(0, 4, titles).tolist()
    names = []
    for i in range(titles):
        adjective, noun, other, person = (
            _ADJECTIVES[adjectives[i]],
            _NOUNS[nouns[i][0]],
            _NOUNS[nouns[i][1]],
            _PEOPLE[people[i]],
        )
        names.append(
            (
                f"The {adjective} {noun}",
                f"{noun} of the {adjective} {other}",
                f"{person}'s {noun}",
                f"{adjective} {noun}, {adjective} {other}",
            )[patterns[i]]
        )
    seen: dict[str, int] = {}
    unique = []
    for name in names:  # repeats become sequels, then numbered parts
        n = seen[name] = seen.get(name, -1) + 1
        unique.append(name + (_SEQUELS[n] if n < len(_SEQUELS) else f" Part {n + 1}"))
    return unique
