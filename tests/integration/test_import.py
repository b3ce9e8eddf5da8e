"""`cbrtl import movielens` and `cbrtl demo seed` as real processes, on real databases.

The ml-100k data set is read where it lies (CBRTL_ML100K_DIR, or the shared
datasets folder); its licence forbids copying it into the repository, so every
small input here is synthetic and written into tmp_path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from db.engine import make_engine
from db.migrate import upgrade
from db.passwords import verify_password
from db.services.ratings import PRIOR_WEIGHT
from tests import services
from tests.services import cbrtl

REPO = Path(__file__).resolve().parents[2]
ML100K_CANDIDATES = (
    os.environ.get("CBRTL_ML100K_DIR", ""),
    str(REPO.parent / "shared" / "datasets" / "ml-100k"),  # shared/ beside the checkout
)
ML100K_FILES = ("u.data", "u.item", "u.genre", "u.user")


@pytest.fixture(scope="module")
def ml100k() -> Path:
    for candidate in ML100K_CANDIDATES:
        if candidate and (Path(candidate) / "u.data").is_file():
            return Path(candidate)
    pytest.fail(f"ml-100k not found; set CBRTL_ML100K_DIR (looked in {ML100K_CANDIDATES})")


@pytest.fixture
def database() -> Iterator[tuple[str, Engine]]:
    """A throw-away, migrated PostgreSQL database of its own (the CLI commits)."""
    url = services.create_database("cbrtl_import")
    engine = make_engine(url)
    try:
        upgrade(url)
        yield url, engine
    finally:
        engine.dispose()
        services.drop_database(url)


def run(url: str, tmp_path: Path, *args: str) -> Any:
    return cbrtl(*args, CBRTL_DATABASE_URL=url, CBRTL_DATA_DIR=str(tmp_path / "data"))


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def snapshot(engine: Engine) -> dict[str, Any]:
    """Row counts and a fingerprint of every row an import writes."""
    queries = {
        "content": "SELECT count(*), max(updated_at), sum(length(title)) FROM content",
        "genres": "SELECT count(*), sum(content_id * genre_id) FROM content_genres",
        "users": "SELECT count(*), max(created_at) FROM users",
        "ratings": "SELECT count(*), sum(score), sum(extract(epoch FROM rated_at)) FROM ratings",
        "stats": "SELECT count(*), max(updated_at), sum(rating_bayesian) FROM content_stats",
    }
    with engine.connect() as conn:
        return {name: tuple(conn.execute(text(sql)).one()) for name, sql in queries.items()}


def assert_stats_match_ratings(engine: Engine) -> None:
    """content_stats equals a GROUP BY over ratings, Bayesian mean included."""
    with engine.connect() as conn:
        prior = conn.execute(text("SELECT avg(score) FROM ratings")).scalar()
        rows = conn.execute(
            text(
                "SELECT c.id, s.rating_count, s.rating_mean, s.rating_bayesian, "
                "count(r.score), avg(r.score) FROM content c "
                "LEFT JOIN content_stats s ON s.content_id = c.id "
                "LEFT JOIN ratings r ON r.content_id = c.id "
                "GROUP BY c.id, s.rating_count, s.rating_mean, s.rating_bayesian"
            )
        ).all()
    assert rows
    for _, count, mean, bayesian, expected_count, expected_mean in rows:
        assert count == expected_count
        if expected_count == 0:
            assert mean is None and bayesian is None
            continue
        assert mean == pytest.approx(expected_mean, abs=1e-9)
        expected = (PRIOR_WEIGHT * prior + expected_mean * expected_count) / (
            PRIOR_WEIGHT + expected_count
        )
        assert bayesian == pytest.approx(expected, abs=1e-9)


def test_ml100k_into_postgresql_twice(
    ml100k: Path, database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = database
    first = run(url, tmp_path, "import", "movielens", str(ml100k))
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    lines = first.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "imported ml-100k: 1682 titles (1682 new, 0 updated), 943 users (943 new), "
        "100000 ratings (100000 new, 0 updated) in "
    )
    assert lines[0].endswith(" s")

    assert scalar(engine, "SELECT count(*) FROM content WHERE source = 'ml-100k'") == 1682
    assert scalar(engine, "SELECT count(*) FROM users WHERE source = 'ml-100k'") == 943
    assert scalar(engine, "SELECT count(*) FROM ratings") == 100000
    assert scalar(engine, "SELECT count(*) FROM content_stats") == 1682
    assert_stats_match_ratings(engine)

    # Spot checks against the files themselves, read here rather than copied.
    movie_id, title = (ml100k / "u.item").read_text("latin-1").split("\n", 1)[0].split("|")[:2]
    name, year = title.rsplit(" (", 1)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT title, release_year FROM content WHERE source_id = :id"), {"id": movie_id}
        ).one()
        assert tuple(row) == (name, int(year.rstrip(")")))
        user, item, score, stamp = (ml100k / "u.data").read_text().split("\n", 1)[0].split("\t")
        rating = conn.execute(
            text(
                "SELECT r.score, extract(epoch FROM r.rated_at) FROM ratings r "
                "JOIN users u ON u.id = r.user_id JOIN content c ON c.id = r.content_id "
                "WHERE u.source_id = :user AND c.source_id = :item"
            ),
            {"user": user, "item": item},
        ).one()
        assert (rating[0], int(rating[1])) == (float(score), int(stamp))
        account = conn.execute(
            text("SELECT email, display_name, password_hash FROM users WHERE source_id = :u"),
            {"u": user},
        ).one()
        assert account.email == f"ml-100k-{user}@import.invalid"
        assert account.display_name == f"MovieLens user {user}"
        assert not verify_password(account.password_hash, "")
        assert not verify_password(account.password_hash, account.password_hash)
        genres = conn.execute(
            text("SELECT count(DISTINCT genre_id), count(*) FROM content_genres")
        ).one()
        assert genres[0] == 18 and genres[1] > 1682  # every genre but IMAX, most titles several

    before = snapshot(engine)
    second = run(url, tmp_path, "import", "movielens", str(ml100k))
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(
        "imported ml-100k: 1682 titles (0 new, 0 updated), 943 users (0 new), "
        "100000 ratings (0 new, 0 updated) in "
    )
    assert snapshot(engine) == before  # not one row rewritten, stats included

    # A malformed copy stops with one line and leaves the imported data as it was.
    broken = corrupt_copy(ml100k, tmp_path / "broken", "u.data", 2500, rating="7")
    failed = run(url, tmp_path, "import", "movielens", str(broken))
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        "cbrtl: u.data line 2500: rating 7 is not between 0.5 and 5.0 in half steps"
    ]
    assert failed.stdout == ""
    assert snapshot(engine) == before


def corrupt_copy(source: Path, folder: Path, name: str, line: int, *, rating: str) -> Path:
    """The real files, copied outside the repository, with one rating changed."""
    folder.mkdir()
    for file in ML100K_FILES:
        shutil.copyfile(source / file, folder / file)
    lines = (folder / name).read_text("latin-1").split("\n")
    fields = lines[line - 1].split("\t")
    fields[2] = rating
    lines[line - 1] = "\t".join(fields)
    (folder / name).write_text("\n".join(lines), "latin-1")
    return folder


def test_malformed_import_writes_nothing(
    ml100k: Path, database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = database
    empty = snapshot(engine)
    # The titles are merged before the ratings are read: the error must undo them.
    broken = corrupt_copy(ml100k, tmp_path / "late", "u.data", 99_999, rating="0")
    failed = run(url, tmp_path, "import", "movielens", str(broken))
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        "cbrtl: u.data line 99999: rating 0 is not between 0.5 and 5.0 in half steps"
    ]
    assert snapshot(engine) == empty
    assert scalar(engine, "SELECT count(*) FROM content") == 0

    nowhere = run(url, tmp_path, "import", "movielens", str(tmp_path / "missing"))
    assert nowhere.returncode == 1
    assert nowhere.stderr.splitlines() == [f"cbrtl: {tmp_path / 'missing'}: no such folder"]
    wrong = run(url, tmp_path, "import", "movielens", str(tmp_path))
    assert wrong.returncode == 1
    assert len(wrong.stderr.splitlines()) == 1
    assert "expected u.data and u.item (ml-100k) or ratings.csv and movies.csv" in wrong.stderr


MOVIES = [
    "movieId,title,genres",
    "10,Made Up Film (2001),Action|Children",
    '20,"Second, The (1999)",(no genres listed)',
    "30,Third Without Year,Drama|IMAX",
]
RATINGS = [
    "userId,movieId,rating,timestamp",
    "1,10,4.5,1600000000",
    "1,20,0.5,1600000100",
    "2,10,3.0,1600000200",
    "3,30,5.0,1600000300",
]


def write_latest_folder(folder: Path, movies: list[str], ratings: list[str]) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "movies.csv").write_text("\n".join(movies) + "\n")
    (folder / "ratings.csv").write_text("\n".join(ratings) + "\n")
    return folder


def titles_with_genres(engine: Engine) -> dict[str, tuple[str, int | None, list[str]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.source_id, c.title, c.release_year, g.name FROM content c "
                "LEFT JOIN content_genres cg ON cg.content_id = c.id "
                "LEFT JOIN genres g ON g.id = cg.genre_id ORDER BY c.source_id, g.name"
            )
        ).all()
    found: dict[str, tuple[str, int | None, list[str]]] = {}
    for source_id, title, year, genre in rows:
        found.setdefault(source_id, (title, year, []))[2].extend([genre] if genre else [])
    return found


def test_ml_latest_layout_and_updates(database: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = database
    folder = write_latest_folder(tmp_path / "latest", MOVIES, RATINGS)
    done = run(url, tmp_path, "import", "movielens", str(folder))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "imported ml-latest: 3 titles (3 new, 0 updated), 3 users (3 new), "
        "4 ratings (4 new, 0 updated)"
    )
    assert titles_with_genres(engine) == {
        "10": ("Made Up Film", 2001, ["Action", "Children's"]),
        "20": ("Second, The", 1999, []),
        "30": ("Third Without Year", None, ["Drama", "IMAX"]),
    }
    assert scalar(engine, "SELECT sum(score) FROM ratings") == 13.0
    assert_stats_match_ratings(engine)

    # A newer folder: a renamed title with other genres, a changed and a new rating.
    movies = [*MOVIES[:1], "10,Made Up Film: Cut (2002),Drama", *MOVIES[2:]]
    ratings = [*RATINGS[:2], "1,20,1.5,1600000100", *RATINGS[3:], "4,20,2.5,1600000400"]
    write_latest_folder(folder, movies, ratings)
    again = run(url, tmp_path, "import", "movielens", str(folder))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(
        "imported ml-latest: 3 titles (0 new, 1 updated), 4 users (1 new), "
        "5 ratings (1 new, 1 updated)"
    )
    assert titles_with_genres(engine)["10"] == ("Made Up Film: Cut", 2002, ["Drama"])
    assert scalar(engine, "SELECT count(*) FROM content") == 3
    assert scalar(engine, "SELECT count(*) FROM ratings") == 5
    assert_stats_match_ratings(engine)


def test_demo_seed_on_sqlite(tmp_path: Path) -> None:
    env = {"CBRTL_DATA_DIR": str(tmp_path)}
    assert cbrtl("db", "upgrade", **env).returncode == 0
    args = ("demo", "seed", "--if-empty", "--titles", "60", "--users", "80", "--ratings", "1500")
    seeded = cbrtl(*args, **env)
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith(
        "imported demo: 60 titles (60 new, 0 updated), 80 users (80 new), "
        "1500 ratings (1500 new, 0 updated)"
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'cbrtl.db'}")
    try:
        with engine.connect() as conn:
            counts = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM content), (SELECT count(*) FROM users), "
                    "(SELECT count(*) FROM ratings), (SELECT count(*) FROM content_stats)"
                )
            ).one()
        assert tuple(counts) == (60, 80, 1500, 60)
        assert scalar(engine, "SELECT count(*) FROM content_genres") >= 60
        assert scalar(engine, "SELECT min(score) >= 0.5 AND max(score) <= 5.0 FROM ratings") == 1
        assert scalar(engine, "SELECT count(*) FROM content_stats WHERE rating_count > 0") > 30
        stats = scalar(engine, "SELECT sum(rating_count) FROM content_stats")
        assert stats == 1500
        # Three sample clips, stored and queued for transcoding on the media queue.
        assert scalar(engine, "SELECT count(*) FROM videos WHERE status = 'queued'") == 3
        assert scalar(engine, "SELECT count(*) FROM jobs WHERE type = 'media.transcode'") == 3
        sources = list((tmp_path / "media" / "sources").rglob("*"))
        assert len([p for p in sources if p.is_file() and p.stat().st_size > 10_000]) == 3

        skipped = cbrtl(*args, **env)
        assert skipped.returncode == 0, skipped.stderr
        assert skipped.stdout.strip() == "the catalogue has content already: nothing seeded"
        assert scalar(engine, "SELECT count(*) FROM ratings") == 1500
    finally:
        engine.dispose()
