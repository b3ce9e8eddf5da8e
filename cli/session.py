"""Database sessions for CLI commands; each command owns its unit of work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from db.broker import CeleryPublisher
from db.engine import make_engine, make_session_factory
from db.settings import Settings


def session_maker(settings: Settings) -> Callable[[], Session]:
    engine = make_engine(settings.resolved_database_url)
    return make_session_factory(engine, publisher=CeleryPublisher(settings))


@contextmanager
def unit_of_work(settings: Settings) -> Iterator[Session]:
    """One session, committed when the block ends without an error."""
    factory = session_maker(settings)
    with factory() as session:
        yield session
        session.commit()
    session.get_bind().dispose()  # type: ignore[union-attr]
