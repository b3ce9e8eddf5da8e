"""The hot writes compiled once (viewing progress, the stats upsert) behave the same
on PostgreSQL and on the embedded SQLite: insert, then update; a missing title is a
404 that writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.errors import NotFound
from db.models import ContentStats, ViewingProgress
from db.services import ratings, viewing
from tests.factories import make_content, make_user


def progress_rows(session: Session) -> list[tuple[int, float, bool]]:
    rows = session.execute(
        select(ViewingProgress.content_id, ViewingProgress.position_s, ViewingProgress.completed)
    )
    return sorted(tuple(r) for r in rows)


def exercise(session: Session) -> None:
    viewer, item = make_user(session), make_content(session)
    viewing.record_progress(
        session=session, user_id=viewer.id, content_id=item.id, position_s=12.5, completed=False
    )
    viewing.record_progress(
        session=session, user_id=viewer.id, content_id=item.id, position_s=60.0, completed=True
    )
    before = progress_rows(session)
    with pytest.raises(NotFound, match=f"No content {item.id + 1000}"):
        viewing.record_progress(
            session=session,
            user_id=viewer.id,
            content_id=item.id + 1000,
            position_s=1,
            completed=False,
        )
    assert progress_rows(session) == before
    assert [(c, p, done) for c, p, done in before if c == item.id] == [(item.id, 60.0, True)]
    for score in (4.0, 2.0):
        ratings.rate(
            session=session, user_id=make_user(session).id, content_id=item.id, score=score
        )
        ratings.recompute_stats(session=session, content_id=item.id, prior_mean=3.0)
    stats = session.get(ContentStats, item.id)
    session.refresh(stats)
    assert stats is not None and (stats.rating_count, stats.rating_mean) == (2, 3.0)
    assert session.scalar(select(func.count()).select_from(ContentStats)) >= 1


def test_on_postgresql(db_session: Session) -> None:
    exercise(db_session)


def test_on_the_embedded_sqlite(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        exercise(session)
