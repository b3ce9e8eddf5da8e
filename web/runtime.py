"""What a web process holds for its lifetime, and the request-scoped session."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app, g
from sqlalchemy.orm import Session, sessionmaker

from db.blocklist import Blocklist
from db.broker import CeleryPublisher
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


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions[EXTENSION]
    return rt


def db_session() -> Session:
    """The request's session; the view that writes commits it."""
    if "db_session" not in g:
        g.db_session = runtime().session_factory()
    session: Session = g.db_session
    return session


def close_db_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
