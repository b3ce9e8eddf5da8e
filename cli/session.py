"""Database sessions for CLI commands; each command owns its unit of work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from db.broker import CeleryPublisher
from db.cache import make_cache
from db.engine import make_engine, make_session_factory
from db.media_urls import MediaUrls
from db.read_models.sync import install_title_sync
from db.read_models.titles import TitleStore
from db.settings import Settings
from db.storage import make_storage


def session_maker(settings: Settings) -> Callable[[], Session]:
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine, publisher=CeleryPublisher(settings))
    # Titles a command changes (an edit, an import over existing rows) are re-served at once.
    titles = TitleStore(make_cache(settings), MediaUrls(settings, make_storage(settings)))
    install_title_sync(factory, titles)
    return factory


@contextmanager
def unit_of_work(settings: Settings) -> Iterator[Session]:
    """One session, committed when the block ends without an error."""
    factory = session_maker(settings)
    with factory() as session:
        yield session
        session.commit()
    session.get_bind().dispose()  # type: ignore[union-attr]
