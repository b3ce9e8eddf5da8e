"""The MovieLens reader on small synthetic folders (never the real data set's lines)."""

from __future__ import annotations

import importlib.util
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from workers.datasets import GENRES, Rating, Title
from workers.datasets.movielens import (
    ML_100K,
    ML_100K_GENRES,
    ML_LATEST,
    LayoutError,
    MalformedRow,
    open_folder,
    split_title,
    write_latest,
)

REPO = Path(__file__).resolve().parents[2]
FLAGS = len(ML_100K_GENRES)


def flags(*names: str) -> str:
    return "|".join("1" if g in names else "0" for g in ML_100K_GENRES)


def item(movie_id: int, title: str, date: str = "01-Jan-1995", genres: str = "") -> str:
    return f"{movie_id}|{title}|{date}||http://example.invalid/{movie_id}|{genres or flags()}"


U_ITEM = [
    item(1, "Alpha Film (1995)", genres=flags("Animation", "Children's", "Comedy")),
    item(2, "Beta, The (1994)", date="01-Jan-1996", genres=flags("Action", "Thriller")),
    item(3, "Gamma Without Year", date="14-Aug-1997", genres=flags("unknown")),
    item(4, "Delta Tape (1993) (V)", genres=flags("Drama")),
    item(5, "unknown", date="", genres=flags("unknown")),
]
U_DATA = ["1\t1\t5\t881250949", "1\t2\t3\t881250950", "2\t1\t1\t0", "2\t4\t4\t891717742"]
U_USER = ["1|24|M|technician|85711", "2|53|F|other|94043", "3|23|M|writer|32067"]
U_GENRE = [f"{name}|{i}" for i, name in enumerate(ML_100K_GENRES)]

MOVIES_CSV = [
    "movieId,title,genres",
    "1,Alpha Film (1995),Adventure|Animation|Children|Comedy|Fantasy",
    '7,"American President, The (1995)",Comedy|Drama|Romance',
    '9,"Quote ""Q"" Movie (2001)",(no genres listed)',
    "12,No Year Here,IMAX|Film-Noir",
    "15,Series (1994-1998),Sci-Fi",
]
RATINGS_CSV = [
    "userId,movieId,rating,timestamp",
    "1,1,4.0,964982703",
    "1,7,0.5,964981247",
    "2,9,3.5,964982224",
    "3,12,5.0,964983815",
    "3,1,2,964982931",
]


def write(folder: Path, name: str, lines: list[str], *, encoding: str = "latin-1") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(("\n".join(lines) + "\n").encode(encoding))


def ml100k(tmp_path: Path, **changes: list[str]) -> Path:
    folder = tmp_path / "ml-100k"
    files = {"u.item": U_ITEM, "u.data": U_DATA, "u.user": U_USER, "u.genre": U_GENRE}
    for name, lines in {**files, **{k.replace("_", "."): v for k, v in changes.items()}}.items():
        write(folder, name, lines)
    return folder


def latest(
    tmp_path: Path, movies: list[str] = MOVIES_CSV, ratings: list[str] = RATINGS_CSV
) -> Path:
    folder = tmp_path / "ml-latest"
    write(folder, "movies.csv", movies, encoding="utf-8")
    write(folder, "ratings.csv", ratings, encoding="utf-8")
    return folder


def read_all(folder: Path) -> tuple[list[Title], list[str], list[Rating]]:
    dataset = open_folder(folder)
    return list(dataset.titles()), list(dataset.users()), list(dataset.ratings())


def test_ml100k_layout(tmp_path: Path) -> None:
    dataset = open_folder(ml100k(tmp_path))
    assert dataset.layout == ML_100K
    titles, users, ratings = read_all(dataset.path)
    assert titles == [
        Title("1", "Alpha Film", 1995, ("Animation", "Children's", "Comedy")),
        Title("2", "Beta, The", 1994, ("Action", "Thriller")),  # the title's year wins
        Title("3", "Gamma Without Year", 1997, ()),  # year from the release date
        Title("4", "Delta Tape (V)", 1993, ("Drama",)),
        Title("5", "unknown", None, ()),
    ]
    assert users == ["1", "2", "3"]  # u.user lists user 3, who rated nothing
    assert ratings[0] == Rating("1", "1", 5.0, datetime(1997, 12, 4, 15, 55, 49, tzinfo=UTC))
    assert [(r.user_source_id, r.movie_source_id, r.score) for r in ratings] == [
        ("1", "1", 5.0),
        ("1", "2", 3.0),
        ("2", "1", 1.0),
        ("2", "4", 4.0),
    ]
    assert ratings[2].rated_at == datetime(1970, 1, 1, tzinfo=UTC)
    assert all(isinstance(r.score, float) and r.rated_at.tzinfo is UTC for r in ratings)
    assert dataset.count_rows() == len(U_ITEM) + len(U_DATA)


def test_ml100k_without_u_genre_and_u_user(tmp_path: Path) -> None:
    folder = ml100k(tmp_path)
    (folder / "u.genre").unlink()
    (folder / "u.user").unlink()
    titles, users, ratings = read_all(folder)
    assert titles[0].genres == ("Animation", "Children's", "Comedy")
    assert users == []  # the loader takes the users from the ratings
    assert len(ratings) == len(U_DATA)


def test_ml100k_reads_latin1_titles(tmp_path: Path) -> None:
    folder = ml100k(tmp_path, u_item=[item(1, "Cité des enfants (1995)", genres=flags("Drama"))])
    write(folder, "u.data", ["1\t1\t4\t881250949"])
    assert read_all(folder)[0] == [Title("1", "Cité des enfants", 1995, ("Drama",))]


def test_ml_latest_layout(tmp_path: Path) -> None:
    dataset = open_folder(latest(tmp_path))
    assert dataset.layout == ML_LATEST
    titles, users, ratings = read_all(dataset.path)
    assert titles == [
        Title(
            "1", "Alpha Film", 1995, ("Adventure", "Animation", "Children's", "Comedy", "Fantasy")
        ),
        Title("7", "American President, The", 1995, ("Comedy", "Drama", "Romance")),
        Title("9", 'Quote "Q" Movie', 2001, ()),
        Title("12", "No Year Here", None, ("IMAX", "Film-Noir")),
        Title("15", "Series", 1994, ("Sci-Fi",)),
    ]
    assert users == []
    assert [(r.user_source_id, r.movie_source_id, r.score) for r in ratings] == [
        ("1", "1", 4.0),
        ("1", "7", 0.5),
        ("2", "9", 3.5),
        ("3", "12", 5.0),
        ("3", "1", 2.0),
    ]
    assert ratings[0].rated_at == datetime(2000, 7, 30, 18, 45, 3, tzinfo=UTC)
    assert dataset.count_rows() == 5 + 5


def test_ml_latest_with_bom_and_crlf(tmp_path: Path) -> None:
    folder = tmp_path / "crlf"
    folder.mkdir()
    (folder / "movies.csv").write_bytes(
        "\ufeff".encode() + "\r\n".join(MOVIES_CSV).encode() + b"\r\n"
    )
    (folder / "ratings.csv").write_bytes("\r\n".join(RATINGS_CSV).encode() + b"\r\n")
    titles, _, ratings = read_all(folder)
    assert [t.source_id for t in titles] == ["1", "7", "9", "12", "15"]
    assert titles[4].genres == ("Sci-Fi",)
    assert len(ratings) == 5


def malformed(folder: Path) -> MalformedRow:
    with pytest.raises(MalformedRow) as caught:
        read_all(folder)
    return caught.value


def replaced(lines: list[str], index: int, line: str) -> list[str]:
    return [*lines[:index], line, *lines[index + 1 :]]


ML100K_CASES = {
    "rating out of range": (
        {"u_data": replaced(U_DATA, 2, "2\t1\t7\t0")},
        "u.data",
        3,
        "rating 7 is not between 0.5 and 5.0 in half steps",
    ),
    "rating not in half steps": (
        {"u_data": replaced(U_DATA, 1, "1\t2\t3.3\t881250950")},
        "u.data",
        2,
        "rating 3.3 is not between 0.5 and 5.0 in half steps",
    ),
    "rating not a number": (
        {"u_data": replaced(U_DATA, 0, "1\t1\tnan\t881250949")},
        "u.data",
        1,
        "rating nan is not between",
    ),
    "too few fields": ({"u_data": replaced(U_DATA, 3, "2\t4\t4")}, "u.data", 4, "expected 4"),
    "user id not a number": (
        {"u_data": replaced(U_DATA, 1, "x1\t2\t3\t881250950")},
        "u.data",
        2,
        "user id 'x1' is not a positive whole number",
    ),
    "movie id zero": (
        {"u_data": replaced(U_DATA, 1, "1\t0\t3\t881250950")},
        "u.data",
        2,
        "movie id '0' is not a positive whole number",
    ),
    "unknown movie": (
        {"u_data": replaced(U_DATA, 3, "2\t99\t4\t891717742")},
        "u.data",
        4,
        "movie 99 is not in u.item",
    ),
    "unknown user": (
        {"u_data": replaced(U_DATA, 3, "9\t4\t4\t891717742")},
        "u.data",
        4,
        "user 9 is not in u.user",
    ),
    "bad timestamp": (
        {"u_data": replaced(U_DATA, 0, "1\t1\t5\t-5")},
        "u.data",
        1,
        "timestamp '-5' is not seconds since 1970",
    ),
    "repeated pair": (
        {"u_data": [*U_DATA, "1\t2\t4\t881250999"]},
        "u.data",
        5,
        "user 1 rated movie 2 already (line 2)",
    ),
    "item field count": (
        {"u_item": replaced(U_ITEM, 1, "2|Beta (1994)|01-Jan-1994")},
        "u.item",
        2,
        f"expected {5 + FLAGS} fields",
    ),
    "genre flag": (
        {"u_item": replaced(U_ITEM, 2, item(3, "Gamma (1990)", genres="2|" + flags()[2:]))},
        "u.item",
        3,
        "genre flag '2' is not 0 or 1",
    ),
    "movie listed twice": (
        {"u_item": [*U_ITEM, item(2, "Again (1999)")]},
        "u.item",
        6,
        "movie 2 is listed twice (line 2)",
    ),
    "release date": (
        {"u_item": replaced(U_ITEM, 2, item(3, "Gamma", date="1997-08-14"))},
        "u.item",
        3,
        "release date '1997-08-14' is not like 01-Jan-1995",
    ),
    "empty title": ({"u_item": replaced(U_ITEM, 0, item(1, "  "))}, "u.item", 1, "title is empty"),
    "title too long": (
        {"u_item": replaced(U_ITEM, 0, item(1, "x" * 301))},
        "u.item",
        1,
        "longer than 300",
    ),
    "genre not in the vocabulary": (
        {"u_genre": replaced(U_GENRE, 4, "Cartoon|4")},
        "u.genre",
        5,
        "genre 'Cartoon' is not one of cbrtl's",
    ),
    "genre out of order": (
        {"u_genre": replaced(U_GENRE, 2, "Adventure|7")},
        "u.genre",
        3,
        "expected 'name|2'",
    ),
    "user line": ({"u_user": replaced(U_USER, 1, "2|53|F")}, "u.user", 2, "expected 5 fields"),
    "user twice": ({"u_user": [*U_USER, "1|9|F|x|1"]}, "u.user", 4, "user 1 is listed twice"),
}


@pytest.mark.parametrize("case", ML100K_CASES, ids=list(ML100K_CASES))
def test_ml100k_malformed_rows_name_file_and_line(tmp_path: Path, case: str) -> None:
    changes, file, line, reason = ML100K_CASES[case]
    error = malformed(ml100k(tmp_path, **changes))
    assert (error.file, error.line) == (file, line)
    assert reason in error.reason
    assert str(error).startswith(f"{file} line {line}: ")
    assert "\n" not in str(error)


def test_the_message_reads_as_one_line(tmp_path: Path) -> None:
    lines = [f"{user}\t{movie}\t4\t881250949" for user in (1, 2, 3, 4) for movie in (1, 2, 3, 4)]
    users = [*U_USER, "4|30|F|artist|10001"]
    error = malformed(ml100k(tmp_path, u_data=[*lines, "4\t5\t7\t881250949"], u_user=users))
    assert str(error) == "u.data line 17: rating 7 is not between 0.5 and 5.0 in half steps"


LATEST_CASES = {
    "ratings header": (
        {"ratings": replaced(RATINGS_CSV, 0, "user,movie,rating,time")},
        "ratings.csv",
        1,
        "expected the header 'userId,movieId,rating,timestamp'",
    ),
    "movies header": (
        {"movies": replaced(MOVIES_CSV, 0, "id,title")},
        "movies.csv",
        1,
        "expected the header 'movieId,title,genres'",
    ),
    "quarter star": (
        {"ratings": replaced(RATINGS_CSV, 2, "1,7,0.25,964981247")},
        "ratings.csv",
        3,
        "rating 0.25 is not between 0.5 and 5.0 in half steps",
    ),
    "above five": (
        {"ratings": replaced(RATINGS_CSV, 4, "3,12,5.5,964983815")},
        "ratings.csv",
        5,
        "rating 5.5 is not between",
    ),
    "zero": (
        {"ratings": replaced(RATINGS_CSV, 4, "3,12,0,964983815")},
        "ratings.csv",
        5,
        "rating 0 is not between",
    ),
    "unknown movie": (
        {"ratings": [*RATINGS_CSV, "4,2,3.0,964983815"]},
        "ratings.csv",
        7,
        "movie 2 is not in movies.csv",
    ),
    "repeated pair": (
        {"ratings": [*RATINGS_CSV, "2,9,1.0,964983815"]},
        "ratings.csv",
        7,
        "user 2 rated movie 9 already (line 4)",
    ),
    "unknown genre": (
        {"movies": replaced(MOVIES_CSV, 3, "9,Quote (2001),Cartoon|Drama")},
        "movies.csv",
        4,
        "genre 'Cartoon' is not one of cbrtl's",
    ),
    "movie fields": (
        {"movies": replaced(MOVIES_CSV, 2, "7,American President, The (1995),Comedy")},
        "movies.csv",
        3,
        "expected 3 fields, found 4",
    ),
    "movie id": (
        {"movies": replaced(MOVIES_CSV, 5, "fifteen,Series (1994),Sci-Fi")},
        "movies.csv",
        6,
        "movie id 'fifteen' is not a positive whole number",
    ),
}


@pytest.mark.parametrize("case", LATEST_CASES, ids=list(LATEST_CASES))
def test_ml_latest_malformed_rows_name_file_and_line(tmp_path: Path, case: str) -> None:
    changes, file, line, reason = LATEST_CASES[case]
    error = malformed(latest(tmp_path, **changes))
    assert (error.file, error.line) == (file, line)
    assert reason in error.reason


def test_ml_latest_text_that_is_not_utf8(tmp_path: Path) -> None:
    folder = latest(tmp_path)
    with (folder / "movies.csv").open("ab") as handle:
        handle.write(b"20,Caf\xe9 (1990),Drama\n")
    error = malformed(folder)
    assert (error.file, error.line) == ("movies.csv", 7)
    assert "is not utf-8 text" in error.reason


def test_empty_folder_names_the_files_it_expected(tmp_path: Path) -> None:
    with pytest.raises(LayoutError) as caught:
        open_folder(tmp_path)
    message = str(caught.value)
    for name in ("u.data", "u.item", "ratings.csv", "movies.csv", "ml-100k", "ml-latest"):
        assert name in message
    assert "not a MovieLens folder" in message


def test_half_a_layout_is_no_layout(tmp_path: Path) -> None:
    write(tmp_path, "u.data", U_DATA)
    write(tmp_path, "movies.csv", MOVIES_CSV)
    with pytest.raises(LayoutError, match=re.escape("expected u.data and u.item")):
        open_folder(tmp_path)


def test_both_layouts_and_missing_folder(tmp_path: Path) -> None:
    folder = ml100k(tmp_path)
    write(folder, "movies.csv", MOVIES_CSV)
    write(folder, "ratings.csv", RATINGS_CSV)
    with pytest.raises(LayoutError, match="holds both layouts"):
        open_folder(folder)
    with pytest.raises(LayoutError, match="no such folder"):
        open_folder(tmp_path / "nope")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Toy Story (1995)", ("Toy Story", 1995)),
        ("  Two Friends (1986) ", ("Two Friends", 1986)),
        ("Land Before Time III (1995) (V)", ("Land Before Time III (V)", 1995)),
        ("Babylon 5 (1994-1998)", ("Babylon 5", 1994)),
        ("City, The (Cité, La) (1995)", ("City, The (Cité, La)", 1995)),
        ("1984 (1956)", ("1984", 1956)),
        ("No Year", ("No Year", None)),
        ("Far Past (1066)", ("Far Past (1066)", None)),  # outside content's year range
        ("(1999)", ("(1999)", None)),
    ],
)
def test_split_title(text: str, expected: tuple[str, int | None]) -> None:
    assert split_title(text) == expected


def test_vocabulary_is_the_genres_table() -> None:
    path = REPO / "migrations" / "versions" / "0001_initial_schema.py"
    spec = importlib.util.spec_from_file_location("initial_schema", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.GENRES == GENRES


def test_write_latest_reads_back(tmp_path: Path) -> None:
    titles = [
        Title("1", "Comma, The", 1999, ("Children's", "Drama")),
        Title("2", 'Say "Hi"', None, ()),
    ]
    write_latest(tmp_path, titles, [(1, 1, 4.5, 964982703), (2, 2, 0.5, 0)])
    assert (tmp_path / "movies.csv").read_text().splitlines() == [
        "movieId,title,genres",
        '1,"Comma, The (1999)",Children|Drama',
        '2,"Say ""Hi""",(no genres listed)',
    ]
    read_titles, _, ratings = read_all(tmp_path)
    assert read_titles == titles
    assert ratings == [
        Rating("1", "1", 4.5, datetime(2000, 7, 30, 18, 45, 3, tzinfo=UTC)),
        Rating("2", "2", 0.5, datetime(1970, 1, 1, tzinfo=UTC)),
    ]
