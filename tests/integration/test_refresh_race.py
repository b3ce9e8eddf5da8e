"""A viewer's rating that lands while the list drain works waits for nothing and keeps
its mark for the next drain, also when it is still in flight as the drain settles (two
real connections; db/services/refresh_backlog.py, pending_marks.py)."""

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


def rated_once(engine: Engine) -> tuple[User, Content]:
    """(a viewer who rated once with a model live, another title)."""
    with Session(engine, expire_on_commit=False) as session:
        make_live_model(session)
        viewer, first, second = make_user(session), make_content(session), make_content(session)
        session.commit()
        ratings.rate(session=session, user_id=viewer.id, content_id=first.id, score=1)
        session.commit()
    return viewer, second


def marked(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(RefreshPending.user_id)))


def test_a_rating_while_the_drain_works_waits_for_nothing_and_stays(engine: Engine) -> None:
    viewer, title = rated_once(engine)
    drain_tx = Session(engine, expire_on_commit=False)
    batch = refresh_backlog.take(session=drain_tx)
    assert batch.users == [viewer.id]

    with Session(engine) as rating_tx:  # the drain holds no lock: this commits at once
        ratings.rate(session=rating_tx, user_id=viewer.id, content_id=title.id, score=5)
        rating_tx.commit()
    refresh_backlog.settle(session=drain_tx, batch=batch)
    drain_tx.commit()
    drain_tx.close()
    assert marked(engine) == [viewer.id]  # stamped anew: left for the next drain
    with Session(engine) as session:
        queued = session.scalars(select(Job.dedup_key).where(Job.status == "queued")).all()
        assert queued == ["stats:pending"]  # the rating's stats drain queues the next


def test_the_drains_settle_waits_for_a_rating_in_flight_then_leaves_it(engine: Engine) -> None:
    viewer, title = rated_once(engine)
    rating_tx = Session(engine, expire_on_commit=False)
    ratings.rate(session=rating_tx, user_id=viewer.id, content_id=title.id, score=5)
    outcome: dict[str, object] = {}

    def drain() -> None:
        with Session(engine) as session:
            outcome["pid"] = session.scalar(text("SELECT pg_backend_pid()"))
            batch = refresh_backlog.take(session=session)  # the stamp committed before
            outcome["users"] = batch.users
            refresh_backlog.settle(session=session, batch=batch)  # waits for the rating
            session.commit()

    thread = threading.Thread(target=drain)
    thread.start()
    wait_for_lock_wait(engine, outcome, what="the drain's settle to wait for the rating")
    rating_tx.commit()
    rating_tx.close()
    thread.join(timeout=10)
    assert outcome["users"] == [viewer.id]
    assert marked(engine) == [viewer.id]  # its new stamp survived the settle


def test_a_rating_removed_marks_the_viewer_too(engine: Engine) -> None:
    viewer, title = rated_once(engine)
    with Session(engine) as session:
        refresh_backlog.settle(session=session, batch=refresh_backlog.take(session=session))
        session.commit()
        assert marked(engine) == []
        ratings.rate(session=session, user_id=viewer.id, content_id=title.id, score=2)
        refresh_backlog.settle(session=session, batch=refresh_backlog.take(session=session))
        assert ratings.unrate(session=session, user_id=viewer.id, content_id=title.id)
        session.commit()
    assert marked(engine) == [viewer.id]


def test_two_drains_take_turns(engine: Engine) -> None:
    viewer, _title = rated_once(engine)
    first = Session(engine, expire_on_commit=False)
    assert refresh_backlog.take(session=first).users == [viewer.id]
    outcome: dict[str, object] = {}

    def second() -> None:
        with Session(engine) as session:
            outcome["pid"] = session.scalar(text("SELECT pg_backend_pid()"))
            outcome["users"] = refresh_backlog.take(session=session).users  # waits its turn
            session.commit()

    thread = threading.Thread(target=second)
    thread.start()
    wait_for_lock_wait(engine, outcome, what="the second drain to wait for the first")
    refresh_backlog.settle(session=first, batch=refresh_backlog.take(session=first))
    first.commit()
    first.close()
    thread.join(timeout=10)
    assert outcome["users"] == []  # it read the marks after the first drain's commit
