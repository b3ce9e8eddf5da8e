"""The home page's per-viewer overlay in one round trip (db/read_models/viewer.py): the
liked genres by name, and what the viewer is watching, most recent first; the same on
PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from db.models import ViewingProgress
from db.models.base import utcnow
from db.read_models import viewer
from db.services import preferences, viewing
from tests.factories import make_content, make_user


def exercise(session: Session) -> None:
    user, other = make_user(session), make_user(session)
    preferences.set_genres(session=session, user_id=user.id, names=["Horror", "Comedy"])
    preferences.set_genres(session=session, user_id=other.id, names=["Drama"])
    titles = [make_content(session) for _ in range(5)]
    for n, item in enumerate(titles):
        viewing.record_progress(
            session=session,
            user_id=user.id,
            content_id=item.id,
            position_s=0.0 if n == 3 else 30.0,  # never really started
            completed=n == 4,  # finished
        )
    # Watched at known times: titles[1] last, then titles[0], then titles[2].
    now = utcnow()
    for item, ago in ((titles[0], 20), (titles[1], 10), (titles[2], 30)):
        session.execute(
            update(ViewingProgress)
            .where(ViewingProgress.user_id == user.id, ViewingProgress.content_id == item.id)
            .values(watched_at=now - timedelta(seconds=ago))
        )
    genres, started = viewer.home_overlay(session, user.id, 20)
    assert genres == ["Comedy", "Horror"]
    assert started == [titles[1].id, titles[0].id, titles[2].id]
    assert viewer.home_overlay(session, user.id, 2)[1] == [titles[1].id, titles[0].id]
    assert viewer.home_overlay(session, other.id, 20) == (["Drama"], [])


def test_on_postgresql(db_session: Session) -> None:
    exercise(db_session)


def test_on_the_embedded_sqlite(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        exercise(session)
