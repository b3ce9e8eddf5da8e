"""Pooled connections are pinged only after sitting idle (db/engine.py): one dropped
while idle is replaced before use; one in steady use costs no ping."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

import db.engine
from db.engine import make_engine
from tests import services


def backend_pid(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("select pg_backend_pid()")).scalar_one())


def test_a_connection_dropped_while_idle_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(services.ADMIN_PG_URL, pool_size=1, max_overflow=0)
    admin = make_engine(services.ADMIN_PG_URL)
    try:
        dropped = backend_pid(engine)
        with admin.connect() as conn:
            conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": dropped})
        monkeypatch.setattr(db.engine, "IDLE_PING_S", 0.0)  # it has sat idle long enough
        assert backend_pid(engine) != dropped
    finally:
        engine.dispose()
        admin.dispose()


def test_a_connection_in_use_is_not_pinged() -> None:
    engine = make_engine(services.ADMIN_PG_URL, pool_size=1, max_overflow=0)
    pings: list[Any] = []
    original = engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return original(dbapi_connection)

    engine.dialect.do_ping = counting  # type: ignore[method-assign]
    try:
        for _ in range(5):
            backend_pid(engine)
        assert pings == []
    finally:
        engine.dispose()
