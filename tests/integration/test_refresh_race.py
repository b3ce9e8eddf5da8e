"""A viewer's rating that lands while the list drain runs is refreshed by the next drain,
and one still in flight keeps its mark (two real connections;
db/services/refresh_backlog.py, pending_marks.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from db.models import Content, Job, RefreshPending, User
from db.services import ratings, refresh_backlog
from tests import services
from tests.factories import make_content, make_live_model, make_user
from tests.services import wait_for_lock_wait


@pytest.fixture
def engine() -> Iterator[Engine]:
    with services.migrated_engine("cbrtl_refresh_race") as engine:
        yield engine


def rated_once(engine: Engine) -> tuple[User, Content, Job]:
    """(a viewer who rated once with a model live, another title, the list drain)."""
    with Session(engine, expire_on_commit=False) as session:
        make_live_model(session)
        viewer, first, second = make_user(session), make_content(session), make_content(session)
        session.commit()
        ratings.rate(session=session, user_id=viewer.id, content_id=first.id, score=1)
        (drain,) = session.scalars(select(Job).where(Job.dedup_key == "recs:pending"))
        session.commit()
    return viewer, second, drain


def marked(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(RefreshPending.user_id)))


def test_a_rating_landing_while_the_drain_runs_queues_the_next(engine: Engine) -> None:
    viewer, title, drain = rated_once(engine)
    with Session(engine) as session:  # the drain's job is running: no longer joinable
        session.get_one(Job, drain.id).status = "running"
        session.commit()

    drain_tx = Session(engine, expire_on_commit=False)
    assert refresh_backlog.take(session=drain_tx) == [viewer.id]  # mark taken
    outcome: dict[str, object] = {}

    def rating() -> None:
        with Session(engine, expire_on_commit=False) as session:
            outcome["pid"] = session.scalar(text("SELECT pg_backend_pid()"))
            # Its mark collides with the one the drain deleted: it waits for that commit.
            ratings.rate(session=session, user_id=viewer.id, content_id=title.id, score=5)
            session.commit()
            outcome["done"] = True

    thread = threading.Thread(target=rating)
    thread.start()
    wait_for_lock_wait(engine, outcome, what="the rating to wait for the drain")
    drain_tx.commit()
    drain_tx.close()
    thread.join(timeout=10)
    assert outcome.get("done") is True
    assert marked(engine) == [viewer.id]  # marked again, after the drain's commit
    with Session(engine) as session:
        queued = session.scalars(
            select(Job.id).where(Job.dedup_key == "recs:pending", Job.status == "queued")
        ).all()
        assert len(queued) == 1 and queued[0] != drain.id  # a new drain, not the running one
        assert refresh_backlog.take(session=session) == [viewer.id]


def test_a_drain_leaves_the_mark_of_a_rating_still_in_flight(engine: Engine) -> None:
    viewer, title, _drain = rated_once(engine)

    rating_tx = Session(engine, expire_on_commit=False)
    ratings.rate(session=rating_tx, user_id=viewer.id, content_id=title.id, score=5)
    with Session(engine) as drain_tx:  # the rating holds the mark: skipped, not waited for
        assert refresh_backlog.take(session=drain_tx) == []
        drain_tx.commit()
    rating_tx.commit()
    rating_tx.close()
    with Session(engine) as session:
        assert refresh_backlog.take(session=session) == [viewer.id]
        session.commit()
    assert marked(engine) == []


def test_a_rating_removed_marks_the_viewer_too(engine: Engine) -> None:
    viewer, title, _drain = rated_once(engine)
    with Session(engine) as session:
        assert refresh_backlog.take(session=session) == [viewer.id]
        session.commit()
        ratings.rate(session=session, user_id=viewer.id, content_id=title.id, score=2)
        assert refresh_backlog.take(session=session) == [viewer.id]
        assert ratings.unrate(session=session, user_id=viewer.id, content_id=title.id)
        session.commit()
    assert marked(engine) == [viewer.id]
