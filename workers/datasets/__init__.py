"""Catalogues and ratings from outside: the rows every reader and generator yields.

The readers (MovieLens) and the generator (synthetic) are pure: files and
numbers in, these rows out. Loading them into the database is db/services/bulk_load.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# cbrtl's genre vocabulary (the `genres` table, seeded by migration 0001).
GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
# content.title is VARCHAR(300); content.release_year has a CHECK on this range.
MAX_TITLE_LENGTH = 300
YEARS = range(1870, 2201)


@dataclass(frozen=True, slots=True)
class Title:
    source_id: str
    title: str
    release_year: int | None
    genres: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rating:
    user_source_id: str
    movie_source_id: str
    score: float  # 0.5-5.0 in half steps
    rated_at: datetime  # aware, UTC
