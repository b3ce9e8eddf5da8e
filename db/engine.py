"""Engines and session factories; the outbox hooks ride on the factory."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import Dialect, make_url
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
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "psycopg2":
        # psycopg 3 prepares what a connection runs often (its prepare_threshold), so the
        # server plans a request's statements once, not on every request: a fifth of the
        # server CPU of the title overlay. postgresql:// and the postgresql+psycopg2://
        # of older configurations run on it too.
        parsed = parsed.set(drivername="postgresql+psycopg")
    # A request may hold two connections at once (its own, and the outbox marking
    # jobs published after commit), on each of gunicorn's threads.
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(parsed, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "connect", _used)
        event.listen(engine, "checkin", _used)
        event.listen(engine, "checkout", partial(_ping_if_idle, engine.dialect))
    return engine


# Enough for the threads of one web process; the read engine's pool comes on top of the
# main one (docs/DEPLOY.md counts both against max_connections).
READ_POOL_SIZE, READ_MAX_OVERFLOW = 5, 10


def make_read_engine(engine: Engine) -> Engine:
    """A second engine on the same database whose connections autocommit from the
    moment they open, for views that only read. `engine.execution_options(
    isolation_level="AUTOCOMMIT")` would share the pool but set the level on every
    checkout and reset it on every return, which cost psycopg2 a round trip each way,
    more than the query it wrapped."""
    if engine.dialect.name == "sqlite":
        if engine.url.database in (None, "", ":memory:"):  # a second engine: another database
            return engine.execution_options(isolation_level="AUTOCOMMIT")
        return make_engine(
            engine.url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
    url = engine.url.render_as_string(hide_password=False)
    return make_engine(
        url,
        isolation_level="AUTOCOMMIT",
        pool_size=READ_POOL_SIZE,
        max_overflow=READ_MAX_OVERFLOW,
    )


# A connection in steady use needs no ping: if the server went away meanwhile, the
# failed statement invalidates the whole pool (SQLAlchemy's disconnect handling) and
# the request answers 503. One that sat idle may have been dropped quietly (a
# restart, a proxy's idle timeout), so it is pinged before use. Pinging on every
# checkout, as pool_pre_ping does, was a round trip per request.
IDLE_PING_S = 5.0
_LAST_USED = "cbrtl.last_used"


def _used(_dbapi_connection: Any, record: Any, *_: Any) -> None:
    record.info[_LAST_USED] = time.monotonic()


def _ping_if_idle(dialect: Dialect, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    if time.monotonic() - record.info.get(_LAST_USED, 0.0) < IDLE_PING_S:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)  # the ping pool_pre_ping sends
    except Exception as error:
        alive = False
        cause: Exception | None = error
    else:
        cause = None
    if not alive:
        # The pool discards this connection and checks out (or opens) another.
        raise exc.DisconnectionError("idle connection failed its ping") from cause


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
