"""Migrations on both backends, and the rules the database itself enforces."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, text
from sqlalchemy.exc import IntegrityError

from db.engine import make_engine
from db.migrate import downgrade, upgrade
from db.models import Base, Rating, User
from db.models.base import MIGRATION_ONLY_INDEXES
from tests import services
from tests.factories import make_content, make_user


def _compared(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


def assert_schema_matches_models(url: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _compared})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], diff


def test_migrations_round_trip_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    assert_schema_matches_models(url)
    downgrade(url, "base")
    upgrade(url)
    assert_schema_matches_models(url)


def test_migrations_round_trip_on_postgresql() -> None:
    url = services.create_database()
    try:
        upgrade(url)
        assert_schema_matches_models(url)
        assert_migration_only_indexes(url)
        downgrade(url, "base")
        upgrade(url)
        assert_migration_only_indexes(url)
    finally:
        services.drop_database(url)


def assert_migration_only_indexes(url: str) -> None:
    """The schema check skips these, so check here that the migrations left them in place."""
    engine = make_engine(url)
    with engine.connect() as conn:
        defs: dict[str, str] = dict(
            conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(:names)"),
                {"names": sorted(MIGRATION_ONLY_INDEXES)},
            ).all()
        )
    engine.dispose()
    assert set(defs) == MIGRATION_ONLY_INDEXES
    assert "rating_bayesian DESC NULLS LAST" in defs["ix_content_stats_bayesian"]


@pytest.mark.parametrize("score", [0.0, 0.3, 2.3, 5.5, -1.0])
def test_database_rejects_bad_scores(connection: Connection, db_session, score: float) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    db_session.commit()
    with pytest.raises(IntegrityError), connection.begin_nested():
        connection.execute(insert(Rating).values(user_id=user.id, content_id=item.id, score=score))


def test_one_rating_per_user_and_content(connection: Connection, db_session) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    db_session.commit()
    connection.execute(insert(Rating).values(user_id=user.id, content_id=item.id, score=3.0))
    with pytest.raises(IntegrityError), connection.begin_nested():
        connection.execute(insert(Rating).values(user_id=user.id, content_id=item.id, score=4.0))


def test_emails_are_unique_and_lower_case(connection: Connection) -> None:
    row = {"email": "a@example.org", "password_hash": "x", "display_name": "A"}
    connection.execute(insert(User).values(**row))
    with pytest.raises(IntegrityError), connection.begin_nested():
        connection.execute(insert(User).values(**row))
    with pytest.raises(IntegrityError), connection.begin_nested():
        connection.execute(insert(User).values(**{**row, "email": "B@example.org"}))


def test_every_foreign_key_is_indexed(connection: Connection) -> None:
    unindexed = connection.execute(
        text(
            """
            SELECT c.conrelid::regclass::text, a.attname
            FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]
            )
            """
        )
    ).all()
    assert unindexed == []
