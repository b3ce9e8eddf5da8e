"""What a web process holds for its lifetime, and the request-scoped session."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import redis
from flask import current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.blocklist import Blocklist
from db.broker import CeleryPublisher
from db.engine import make_read_engine
from db.read_models.list_reads import ListReads
from db.read_models.recent_ratings import RecentRatings
from db.read_models.titles import TitleStore
from db.settings import Settings
from db.storage import Storage

EXTENSION = "cbrtl"


@dataclass
class Runtime:
    settings: Settings
    session_factory: sessionmaker[Session]
    publisher: CeleryPublisher
    storage: Storage
    cache: redis.Redis | None
    blocklist: Blocklist
    titles: TitleStore
    recent_ratings: RecentRatings
    list_reads: ListReads


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions[EXTENSION]
    return rt


def db_session() -> Session:
    """The request's session; the view that writes commits it."""
    if "db_session" not in g:
        g.db_session = runtime().session_factory()
    session: Session = g.db_session
    return session


def db_reads() -> Session:
    """The request's session for a view that only reads: its statements autocommit, so
    a read costs no BEGIN and no ROLLBACK round trip, and a view that needs no row
    checks out no connection. (Tests bind sessions to a connection inside their own
    transaction; those read inside it.)"""
    if "db_session" not in g:
        factory = runtime().session_factory
        bind = factory.kw.get("bind")
        g.db_session = factory(bind=_read_engine(bind)) if isinstance(bind, Engine) else factory()
    session: Session = g.db_session
    return session


_read_engine = cache(make_read_engine)  # one per engine, for the process's lifetime


def close_db_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
