"""`cbrtl demo synth` as a real process: a platform written straight into an empty
PostgreSQL (COPY) or SQLite database, complete and consistent, refused when the
catalogue is not empty, and usable afterwards (ids continue past the rows written)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from tests.services import cbrtl, migrated_engine

ARGS = ("demo", "synth", "--users", "400", "--titles", "150", "--ratings", "8000", "--seed", "7")


def one(engine: Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).one()


def check_platform(engine: Engine, views: int) -> None:
    users, titles, ratings, stats, watched = one(
        engine,
        "SELECT (SELECT count(*) FROM users WHERE source = 'synth'), "
        "(SELECT count(*) FROM content), (SELECT count(*) FROM ratings), "
        "(SELECT count(*) FROM content_stats), (SELECT count(*) FROM viewing_progress)",
    )
    assert (users, titles, ratings, stats, watched) == (400, 150, 8000, 150, views)
    # Every title's stats are its ratings' count and mean.
    (wrong,) = one(
        engine,
        "SELECT count(*) FROM content_stats s LEFT JOIN (SELECT content_id, count(*) AS n, "
        "avg(score) AS mean FROM ratings GROUP BY content_id) r USING (content_id) "
        "WHERE s.rating_count != coalesce(r.n, 0) OR abs(coalesce(s.rating_mean, 0) - "
        "coalesce(r.mean, 0)) > 1e-9",
    )
    assert wrong == 0
    # Popularity follows a power law: the top tenth of the titles take a quarter or more
    # (a uniform draw would give them a tenth).
    (top,) = one(
        engine,
        "SELECT sum(rating_count) FROM (SELECT rating_count FROM content_stats "
        "ORDER BY rating_count DESC LIMIT 15) t",
    )
    assert top > 8000 / 4
    (genres,) = one(engine, "SELECT count(DISTINCT content_id) FROM content_genres")
    assert genres == 150
    (bad_views,) = one(
        engine,
        "SELECT count(*) FROM viewing_progress v JOIN content c ON c.id = v.content_id "
        "WHERE (v.completed AND v.position_s != c.duration_s) OR v.position_s > c.duration_s",
    )
    assert bad_views == 0
    (late,) = one(
        engine,
        "SELECT count(*) FROM viewing_progress v JOIN ratings r USING (user_id, content_id) "
        "WHERE v.watched_at >= r.rated_at",
    )
    assert late == 0


def schema_of(engine: Engine) -> set[tuple[str, str]]:
    """The large tables' indexes and constraints, as PostgreSQL would recreate them."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid::regclass::text IN ('ratings', 'viewing_progress') UNION ALL "
                "SELECT conname, pg_get_constraintdef(oid) || convalidated::text "
                "FROM pg_constraint WHERE conrelid::regclass::text IN "
                "('ratings', 'viewing_progress')"
            )
        ).all()
    return {(name, definition) for name, definition in rows}


def summary_views(stdout: str) -> int:
    assert stdout.startswith("synthesised 400 viewers, 150 titles, 8000 ratings and "), stdout
    return int(stdout.split(" and ")[1].split()[0])


def test_synth_into_postgresql_then_refused_and_ids_go_on(tmp_path: Path) -> None:
    with migrated_engine("cbrtl_synth") as engine:
        env = {
            "CBRTL_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "CBRTL_DATA_DIR": str(tmp_path),
        }
        schema = schema_of(engine)
        assert len(schema) >= 9  # the keys and indexes the load sets aside are there
        done = cbrtl(*ARGS, **env)
        assert done.returncode == 0, done.stderr
        views = summary_views(done.stdout)
        assert 4000 < views < 12_000
        check_platform(engine, views)
        assert schema_of(engine) == schema  # put back exactly, and validated

        again = cbrtl(*ARGS, **env)
        assert again.returncode == 1
        assert again.stderr.strip().startswith(
            "cbrtl: A synthetic platform needs an empty catalogue; this one has 150 titles "
            "and ratings."
        ), again.stderr
        assert "Traceback" not in again.stderr
        check_platform(engine, views)  # nothing changed
        assert schema_of(engine) == schema

        with engine.begin() as conn:  # the sequences moved past the ids written
            user = conn.execute(
                text(
                    "INSERT INTO users (email, password_hash, display_name, created_at) "
                    "VALUES ('new@example.org', 'x', 'New', now()) RETURNING id"
                )
            ).scalar_one()
            title = conn.execute(
                text(
                    "INSERT INTO content (title, description, created_at, updated_at) "
                    "VALUES ('New', '', now(), now()) RETURNING id"
                )
            ).scalar_one()
        assert user > 400 and title == 151


def test_synth_on_sqlite_is_the_same_platform_for_the_same_seed(tmp_path: Path) -> None:
    fingerprints = []
    for name in ("a", "b"):
        env = {"CBRTL_DATA_DIR": str(tmp_path / name)}
        assert cbrtl("db", "upgrade", **env).returncode == 0
        done = cbrtl(*ARGS, **env)
        assert done.returncode == 0, done.stderr
        engine = create_engine(f"sqlite:///{tmp_path / name / 'cbrtl.db'}")
        try:
            check_platform(engine, summary_views(done.stdout))
            fingerprints.append(
                tuple(
                    one(
                        engine,
                        "SELECT (SELECT sum(score * user_id * content_id) FROM ratings), "
                        "(SELECT sum(position_s) FROM viewing_progress), "
                        "(SELECT group_concat(title, '|') FROM content)",
                    )
                )
            )
        finally:
            engine.dispose()
    assert fingerprints[0] == fingerprints[1]


def test_impossible_platforms_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    env = {"CBRTL_DATA_DIR": str(tmp_path)}
    assert cbrtl("db", "upgrade", **env).returncode == 0
    refused = cbrtl("demo", "synth", "--users", "3", "--titles", "2", "--ratings", "7", **env)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "cbrtl: Cannot make that platform: ratings must be between 0 and titles x users (6)."
    )
    missing = cbrtl("demo", "synth", "--users", "3", **env)
    assert missing.returncode == 2 and "Missing option '--titles'" in missing.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'cbrtl.db'}")
    try:
        assert tuple(one(engine, "SELECT (SELECT count(*) FROM users), "
                                 "(SELECT count(*) FROM content)")) == (0, 0)  # fmt: skip
    finally:
        engine.dispose()
