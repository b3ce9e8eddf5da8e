"""Engines and session factories; the outbox hooks ride on the factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from db.outbox import Publisher, install_outbox


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Several processes share the file: wait for locks instead of failing.
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # A request may hold two connections at once (its own, and the outbox marking
    # jobs published after commit), on each of gunicorn's threads.
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(
    bind: Any, *, publisher: Publisher | None = None, **kwargs: Any
) -> sessionmaker[Session]:
    """A factory whose sessions publish the jobs they commit (when given a publisher)."""
    factory = sessionmaker(bind=bind, expire_on_commit=False, **kwargs)
    if publisher is not None:
        install_outbox(factory, publisher)
    return factory
