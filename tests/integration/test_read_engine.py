"""The read engine's connections autocommit from the moment they open: no isolation
level set on checkout and reset on return (a round trip each, with psycopg2)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from db.engine import make_read_engine


def test_reads_autocommit_without_setting_the_level_per_checkout(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = make_read_engine(pg_engine)
    calls: list[Any] = []
    original = reads.dialect.set_isolation_level

    def counted(*args: Any) -> None:
        calls.append(args)
        original(*args)

    monkeypatch.setattr(reads.dialect, "set_isolation_level", counted)
    try:
        for _ in range(5):
            with Session(bind=reads) as session:
                assert session.connection().execute(text("SELECT 1")).scalar() == 1
                raw = session.connection().connection.dbapi_connection
                assert raw is not None and raw.autocommit
        assert len(calls) == 1  # once, when the pool opened its one connection
        with reads.connect() as conn:
            level = conn.exec_driver_sql("SHOW transaction_isolation").scalar()
            conn.exec_driver_sql("CREATE TEMP TABLE seen (x int)")  # lands without COMMIT
        with reads.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM seen").scalar() == 0
        assert level == "read committed"
        assert reads.url == pg_engine.url and reads.pool is not pg_engine.pool
    finally:
        reads.dispose()
