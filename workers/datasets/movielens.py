"""MovieLens folders: read ml-100k and ml-latest layouts, write the ml-latest one.

Pure: a folder in, Title and Rating rows out. Every problem with a row is a
MalformedRow naming the file and line; a folder in neither layout is a LayoutError
naming the files it looked for.
"""

from __future__ import annotations

import csv
import re
from array import array
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from workers.datasets import GENRES, MAX_TITLE_LENGTH, YEARS, Rating, Title

ML_100K = "ml-100k"
ML_LATEST = "ml-latest"
# Files that make each layout: (ratings, movies).
LAYOUTS = {ML_100K: ("u.data", "u.item"), ML_LATEST: ("ratings.csv", "movies.csv")}
RATINGS_HEADER = "userId,movieId,rating,timestamp"
MOVIES_HEADER = "movieId,title,genres"
# u.item's 19 flags when a folder has no u.genre to say their order.
ML_100K_GENRES = ("unknown", *(g for g in GENRES if g != "IMAX"))
NO_GENRES = "(no genres listed)"

# MovieLens genre names that differ from cbrtl's; None: the title has no genre.
_ALIASES: dict[str, str | None] = {"children": "Children's", "unknown": None, NO_GENRES: None}
_VOCABULARY: dict[str, str | None] = {**{g.lower(): g for g in GENRES}, **_ALIASES}
_EXPORT_NAMES = {"Children's": "Children"}

# "Title (1995)", "Title (1995) (V)", "Series (1994-1998)": the year is the last
# parenthesised four digits, optionally followed by markers such as "(V)".
_TITLE_YEAR = re.compile(
    r"^(?P<name>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4}\s*)?\)"
    r"(?P<tail>(?:\s*\([^()]*\))*)\s*$"
)
_RELEASE_DATE = re.compile(r"^\d{1,2}-[A-Za-z]{3}-(\d{4})$")
_SCORE = re.compile(rb"^\d+(?:\.\d+)?$")
_MAX_ID = 2**31 - 1  # ids pack into one int64 pair key; MovieLens ids are far below


class DatasetError(Exception):
    """The folder cannot be imported; the message says why, on one line."""


class LayoutError(DatasetError):
    pass


class MalformedRow(DatasetError):
    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file} line {line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


def open_folder(path: Path | str) -> MovieLensFolder:
    """The folder's layout, from the files it holds; nothing is parsed yet."""
    folder = Path(path)
    if not folder.is_dir():
        raise LayoutError(f"{folder}: no such folder")
    found = [name for name, files in LAYOUTS.items() if all((folder / f).is_file() for f in files)]
    if len(found) != 1:
        expected = " or ".join(f"{' and '.join(files)} ({name})" for name, files in LAYOUTS.items())
        what = "holds both layouts" if found else "is not a MovieLens folder"
        raise LayoutError(f"{folder} {what}: expected {expected}")
    return MovieLensFolder(folder, found[0])


def split_title(text: str) -> tuple[str, int | None]:
    """("Toy Story", 1995) from "Toy Story (1995)"; the text and None without a year."""
    text = text.strip()
    match = _TITLE_YEAR.match(text)
    if match is None or int(match["year"]) not in YEARS or not match["name"]:
        return text, None
    return f"{match['name']}{match['tail']}".strip(), int(match["year"])


def genre_name(name: str) -> str | None:
    """cbrtl's name for a MovieLens genre; None for "unknown"; KeyError if not known."""
    return _VOCABULARY[name.strip().lower()]


class MovieLensFolder:
    def __init__(self, path: Path, layout: str) -> None:
        self.path = path
        self.layout = layout
        self.ratings_file, self.movies_file = LAYOUTS[layout]
        self._movie_ids: set[int] | None = None
        self._user_ids: set[int] | None = None

    def count_rows(self) -> int:
        """Titles plus ratings, counted by lines (headers off): the progress bar's total."""
        headers = 2 if self.layout == ML_LATEST else 0
        return _count_lines(self.path / self.movies_file) + (
            _count_lines(self.path / self.ratings_file) - headers
        )

    def titles(self) -> Iterator[Title]:
        reader = self._ml100k_titles if self.layout == ML_100K else self._latest_titles
        seen: dict[int, int] = {}
        for line, movie_id, title in reader():
            if movie_id in seen:
                raise MalformedRow(
                    self.movies_file,
                    line,
                    f"movie {movie_id} is listed twice (line {seen[movie_id]})",
                )
            seen[movie_id] = line
            yield title
        self._movie_ids = set(seen)

    def users(self) -> Iterator[str]:
        """Users the folder lists apart from its ratings (ml-100k's u.user), if any."""
        yield from (str(user_id) for user_id in sorted(self._listed_users() or ()))

    def ratings(self) -> Iterator[Rating]:
        """Every rating, checked against the titles (and u.user); pairs must not repeat."""
        movies = self._known_movies()
        users = self._listed_users()
        name = self.ratings_file
        separator = b"\t" if self.layout == ML_100K else b","
        keys = array("q")
        lines = array("q")
        with (self.path / name).open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                row = raw.rstrip(b"\r\n")
                if number == 1 and self.layout == ML_LATEST:
                    _check_header(name, row.decode("utf-8-sig", "replace"), RATINGS_HEADER)
                    continue
                if not row.strip():
                    continue
                fields = row.split(separator)
                if len(fields) != 4:
                    raise MalformedRow(
                        name, number, f"expected 4 fields, found {len(fields)}: {_show(row)}"
                    )
                user = _id(name, number, "user id", fields[0])
                movie = _id(name, number, "movie id", fields[1])
                if movie not in movies:
                    raise MalformedRow(name, number, f"movie {movie} is not in {self.movies_file}")
                if users is not None and user not in users:
                    raise MalformedRow(name, number, f"user {user} is not in u.user")
                keys.append(user << 32 | movie)
                lines.append(number)
                yield Rating(
                    str(user),
                    str(movie),
                    _score(name, number, fields[2]),
                    _timestamp(name, number, fields[3]),
                )
        _check_unique_pairs(name, keys, lines)

    # ---------------------------------------------------------------- ml-100k

    def _ml100k_genres(self) -> list[str | None]:
        path = self.path / "u.genre"
        if not path.is_file():
            return [genre_name(g) for g in ML_100K_GENRES]
        names: list[str | None] = []
        for number, text in _text_lines(path, "latin-1"):
            fields = text.split("|")
            if len(fields) != 2 or fields[1].strip() != str(len(names)):
                raise MalformedRow(
                    "u.genre", number, f"expected 'name|{len(names)}', found {text!r}"
                )
            names.append(_genre(path.name, number, fields[0]))
        return names

    def _ml100k_titles(self) -> Iterator[tuple[int, int, Title]]:
        genres = self._ml100k_genres()
        name = self.movies_file
        for number, text in _text_lines(self.path / name, "latin-1"):
            fields = text.split("|")
            if len(fields) != 5 + len(genres):
                raise MalformedRow(
                    name,
                    number,
                    f"expected {5 + len(genres)} fields separated by '|', found {len(fields)}",
                )
            movie_id = _id(name, number, "movie id", fields[0].encode())
            title, year = _title(name, number, fields[1])
            if year is None and fields[2].strip():
                year = _release_year(name, number, fields[2].strip())
            flags = [flag.strip() for flag in fields[5:]]
            bad = next((flag for flag in flags if flag not in ("0", "1")), None)
            if bad is not None:
                raise MalformedRow(name, number, f"genre flag {bad!r} is not 0 or 1")
            chosen = tuple(g for g, flag in zip(genres, flags, strict=True) if flag == "1" and g)
            yield number, movie_id, Title(str(movie_id), title, year, _dedupe(chosen))

    def _listed_users(self) -> set[int] | None:
        path = self.path / "u.user"
        if self.layout != ML_100K or not path.is_file():
            return None
        if self._user_ids is None:
            users: dict[int, int] = {}
            for number, text in _text_lines(path, "latin-1"):
                fields = text.split("|")
                if len(fields) != 5:
                    raise MalformedRow(
                        "u.user", number, f"expected 5 fields separated by '|', found {len(fields)}"
                    )
                user = _id("u.user", number, "user id", fields[0].encode())
                if user in users:
                    raise MalformedRow(
                        "u.user", number, f"user {user} is listed twice (line {users[user]})"
                    )
                users[user] = number
            self._user_ids = set(users)
        return self._user_ids

    # ---------------------------------------------------------------- ml-latest

    def _latest_titles(self) -> Iterator[tuple[int, int, Title]]:
        name = self.movies_file
        lines = (text for _, text in _text_lines(self.path / name, "utf-8", keep_first=True))
        reader = csv.reader(lines)
        for fields in reader:
            number = reader.line_num
            if number == 1:
                _check_header(name, ",".join(fields), MOVIES_HEADER)
                continue
            if len(fields) != 3:
                raise MalformedRow(name, number, f"expected 3 fields, found {len(fields)}")
            movie_id = _id(name, number, "movie id", fields[0].encode())
            title, year = _title(name, number, fields[1])
            genres = tuple(
                g for g in (_genre(name, number, part) for part in fields[2].split("|")) if g
            )
            yield number, movie_id, Title(str(movie_id), title, year, _dedupe(genres))

    def _known_movies(self) -> set[int]:
        if self._movie_ids is None:
            for _ in self.titles():
                pass
        assert self._movie_ids is not None
        return self._movie_ids


def write_latest(
    path: Path | str,
    titles: Iterable[Title],
    ratings: Iterable[tuple[int | str, int | str, float, int]],
) -> None:
    """Write movies.csv and ratings.csv (userId, movieId, rating, epoch seconds)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "movies.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(MOVIES_HEADER.split(","))
        writer.writerows(
            (
                t.source_id,
                f"{t.title} ({t.release_year})" if t.release_year else t.title,
                "|".join(_EXPORT_NAMES.get(g, g) for g in t.genres) or NO_GENRES,
            )
            for t in titles
        )
    with (folder / "ratings.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(RATINGS_HEADER.split(","))
        writer.writerows(ratings)


# -------------------------------------------------------------------- helpers


def _text_lines(
    path: Path, encoding: str, *, keep_first: bool = False
) -> Iterator[tuple[int, str]]:
    """(line number, text) for each line; blank lines are skipped unless keep_first asks
    for line 1 whatever it holds (a header)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                # A byte-order mark may open a UTF-8 file.
                text = raw.decode("utf-8-sig" if number == 1 and encoding == "utf-8" else encoding)
            except UnicodeDecodeError:
                raise MalformedRow(path.name, number, f"is not {encoding} text") from None
            text = text.rstrip("\r\n")
            if text.strip() or (keep_first and number == 1):
                yield number, text


def _count_lines(path: Path) -> int:
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _show(row: bytes) -> str:
    return repr(row.decode("latin-1")[:60])


def _check_header(file: str, found: str, expected: str) -> None:
    if found.strip() != expected:
        raise MalformedRow(file, 1, f"expected the header {expected!r}, found {found[:60]!r}")


def _id(file: str, line: int, what: str, token: bytes) -> int:
    token = token.strip()
    if not token.isdigit() or not 0 < int(token) <= _MAX_ID:
        raise MalformedRow(file, line, f"{what} {_show(token)} is not a positive whole number")
    return int(token)


def _score(file: str, line: int, token: bytes) -> float:
    token = token.strip()
    score = float(token) if _SCORE.match(token) else float("nan")
    if not (0.5 <= score <= 5.0 and (score * 2).is_integer()):
        shown = token.decode("latin-1")[:20]
        raise MalformedRow(file, line, f"rating {shown} is not between 0.5 and 5.0 in half steps")
    return score


def _timestamp(file: str, line: int, token: bytes) -> datetime:
    token = token.strip()
    try:
        if not token.isdigit():
            raise ValueError
        return datetime.fromtimestamp(int(token), UTC)
    except (ValueError, OverflowError, OSError):
        raise MalformedRow(
            file, line, f"timestamp {_show(token)} is not seconds since 1970"
        ) from None


def _title(file: str, line: int, text: str) -> tuple[str, int | None]:
    title, year = split_title(text)
    if not title:
        raise MalformedRow(file, line, "the title is empty")
    if len(title) > MAX_TITLE_LENGTH:
        raise MalformedRow(file, line, f"the title is longer than {MAX_TITLE_LENGTH} characters")
    return title, year


def _release_year(file: str, line: int, text: str) -> int:
    match = _RELEASE_DATE.match(text)
    if match is None or int(match[1]) not in YEARS:
        raise MalformedRow(file, line, f"release date {text!r} is not like 01-Jan-1995")
    return int(match[1])


def _genre(file: str, line: int, name: str) -> str | None:
    try:
        return genre_name(name)
    except KeyError:
        raise MalformedRow(file, line, f"genre {name.strip()!r} is not one of cbrtl's") from None


def _dedupe(genres: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(genres))


def _check_unique_pairs(file: str, keys: array[int], lines: array[int]) -> None:
    """One rating per user and movie: report the earliest line that repeats a pair."""
    if len(keys) < 2:
        return
    packed = np.frombuffer(keys, dtype=np.int64)
    order = np.argsort(packed, kind="stable")
    repeats = np.flatnonzero(packed[order[1:]] == packed[order[:-1]])
    if len(repeats) == 0:
        return
    at_lines = np.frombuffer(lines, dtype=np.int64)
    # order is stable, so order[r + 1] is the later row of each repeated pair.
    later = int(repeats[np.argmin(at_lines[order[repeats + 1]])])
    first, second = int(at_lines[order[later]]), int(at_lines[order[later + 1]])
    user, movie = int(packed[order[later]]) >> 32, int(packed[order[later]]) & 0xFFFFFFFF
    raise MalformedRow(file, second, f"user {user} rated movie {movie} already (line {first})")
