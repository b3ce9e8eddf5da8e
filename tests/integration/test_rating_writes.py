"""The rating write's few round trips: the title check and the stats mark folded into the
upsert, both dedup enqueues in one statement (no savepoint), the live-model check
remembered."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from kombu import Connection as AmqpConnection
from sqlalchemy import Connection, Engine, event, func, select, text
from sqlalchemy.orm import Session

from db.errors import NotFound
from db.models import Job, Rating, RefreshPending, StatsPending
from db.services import job_rows, jobs, ratings
from tests import services
from tests.auth import login
from tests.factories import make_content, make_live_model, make_user
from tests.services import drain_job_ids, wait_for_lock_wait


class Statements:
    """The SQL a connection sends while the block runs."""

    def __init__(self, connection: Connection) -> None:
        self.connection, self.sent = connection, list[str]()

    def __enter__(self) -> list[str]:
        event.listen(self.connection, "before_cursor_execute", self._record)
        return self.sent

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.connection, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.sent.append(statement.split(None, 1)[0].upper())


def counts(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Rating)) or 0,
        session.scalar(select(func.count()).select_from(Job)) or 0,
    )


def test_a_rating_is_one_statement_per_write_and_no_savepoint(
    connection: Connection, db_session: Session
) -> None:
    make_live_model(db_session)
    users = [make_user(db_session).id for _ in range(2)]
    items = [make_content(db_session).id for _ in range(2)]
    db_session.flush()
    with Statements(connection) as first:
        ratings.rate(session=db_session, user_id=users[0], content_id=items[0], score=3)
    # the live-model check, the upsert with both marks, the stats drain
    assert first == ["SELECT", "WITH", "WITH"]
    with Statements(connection) as new:
        ratings.rate(session=db_session, user_id=users[1], content_id=items[1], score=3)
    assert new == ["WITH", "WITH"]  # the live model is remembered
    with Statements(connection) as joined:
        saved = ratings.rate(session=db_session, user_id=users[1], content_id=items[1], score=4)
    # The drain is still queued: one statement share-locks and returns it.
    assert joined == ["WITH", "WITH"]
    keys = db_session.scalars(select(Job.dedup_key).order_by(Job.id)).all()
    # One drain for the platform, however many ratings: it queues the lists' after it.
    assert keys == ["stats:pending"]
    assert saved.job.dedup_key == "stats:pending"
    marked = db_session.scalars(select(StatsPending.content_id).order_by("content_id")).all()
    assert marked == sorted(items)
    viewers = db_session.scalars(select(RefreshPending.user_id).order_by("user_id")).all()
    assert viewers == sorted(users)


def test_keyed_jobs_in_one_statement_each_insert_or_join(
    connection: Connection, db_session: Session
) -> None:
    first = jobs.enqueue(session=db_session, type="ratings.recompute_stats", args={}, dedup_key="a")
    wanted = [
        ("ratings.recompute_stats", {}, "a"),
        ("recommender.refresh_user", {"user_id": 1}, "b"),
    ]
    with Statements(connection) as sent:
        joined, new = jobs.enqueue_keyed(session=db_session, jobs=wanted)
    assert sent == ["WITH"]
    assert joined.id == first.id and new.id != first.id
    assert (new.type, new.queue, new.args, new.dedup_key, new.status, new.attempts) == (
        "recommender.refresh_user", "ml", {"user_id": 1}, "b", "queued", 0
    )  # fmt: skip
    with Statements(connection) as again:
        assert [j.id for j in jobs.enqueue_keyed(session=db_session, jobs=wanted)] == [
            first.id, new.id
        ]  # fmt: skip
    assert again == ["WITH"]
    with pytest.raises(ValueError, match="same dedup key"):
        job_rows.insert_or_join_many(session=db_session, values=[{"dedup_key": "c"}] * 2)


def test_the_dedup_insert_writes_the_row_the_orm_would(db_session: Session) -> None:
    plain = jobs.enqueue(session=db_session, type="ratings.recompute_stats", args={"n": 1})
    keyed = jobs.enqueue(
        session=db_session, type="ratings.recompute_stats", args={"n": 1}, dedup_key="k:1"
    )
    db_session.expire_all()
    skip = {"id", "dedup_key", "created_at", "updated_at"}
    columns = [c.key for c in Job.__table__.c if c.key not in skip]
    assert {c: getattr(keyed, c) for c in columns} == {c: getattr(plain, c) for c in columns}
    assert keyed.created_at is not None and keyed.updated_at is not None
    again = jobs.enqueue(
        session=db_session, type="ratings.recompute_stats", args={"n": 2}, dedup_key="k:1"
    )
    assert again is keyed and again.args == {"n": 1}  # joined the queued one


def test_a_dedup_job_is_published_after_commit(
    ratings_queue: AmqpConnection, db_session: Session
) -> None:
    job = jobs.enqueue(
        session=db_session, type="ratings.recompute_stats", args={"content_id": 1}, dedup_key="s:1"
    )
    assert drain_job_ids(ratings_queue) == []
    db_session.commit()
    assert drain_job_ids(ratings_queue) == [job.id]
    db_session.refresh(job)
    assert job.published_at is not None


def test_a_dedup_job_of_a_rolled_back_savepoint_is_not_published(
    ratings_queue: AmqpConnection, db_session: Session
) -> None:
    with pytest.raises(RuntimeError), db_session.begin_nested():
        jobs.enqueue(
            session=db_session, type="ratings.recompute_stats", args={"id": 2}, dedup_key="s:2"
        )
        raise RuntimeError("roll this savepoint back")
    kept = jobs.enqueue(
        session=db_session, type="ratings.recompute_stats", args={"id": 3}, dedup_key="s:2"
    )
    db_session.commit()
    assert drain_job_ids(ratings_queue) == [kept.id]


def test_a_missing_title_is_404_and_writes_nothing(
    client: FlaskClient, db_session: Session
) -> None:
    headers = login(client, make_user(db_session).email)
    before = counts(db_session)
    response = client.put("/api/v1/content/987654321/rating", json={"score": 3}, headers=headers)
    assert response.status_code == 404
    assert response.json == {
        "error": {"code": "not_found", "message": "No content 987654321.", "details": {}}
    }
    assert client.delete("/api/v1/content/987654321/rating", headers=headers).status_code == 404
    assert counts(db_session) == before


def test_removing_a_rating_that_is_not_there_queues_nothing(db_session: Session) -> None:
    user, item = make_user(db_session), make_content(db_session)
    before = counts(db_session)
    assert ratings.unrate(session=db_session, user_id=user.id, content_id=item.id) is None
    assert counts(db_session) == before
    with pytest.raises(NotFound):
        ratings.unrate(session=db_session, user_id=user.id, content_id=987654321)


def test_the_first_live_model_counts_from_the_next_rating(db_session: Session) -> None:
    user, item = make_user(db_session), make_content(db_session)

    def marks() -> int:
        return db_session.scalar(select(func.count()).select_from(RefreshPending)) or 0

    ratings.rate(session=db_session, user_id=user.id, content_id=item.id, score=2)
    assert marks() == 0  # no model yet, and that is not remembered
    make_live_model(db_session)
    ratings.rate(session=db_session, user_id=user.id, content_id=item.id, score=3)
    assert marks() == 1


@pytest.fixture
def engine() -> Iterator[Engine]:
    with services.migrated_engine("cbrtl_enqueue") as engine:
        yield engine


@pytest.mark.parametrize("first_commits", [True, False])
def test_a_concurrent_dedup_insert_waits_then_joins_or_inserts(
    engine: Engine, first_commits: bool
) -> None:
    def enqueue(session: Session) -> Job:
        return jobs.enqueue(
            session=session, type="ratings.recompute_stats", args={}, dedup_key="stats:9"
        )

    first = Session(engine, expire_on_commit=False)
    mine = enqueue(first).id  # inserted, not committed
    outcome: dict[str, Any] = {}

    def second() -> None:
        with Session(engine, expire_on_commit=False) as session:
            outcome["pid"] = session.scalar(text("SELECT pg_backend_pid()"))
            outcome["job"] = enqueue(session).id  # waits for the first transaction
            session.commit()

    thread = threading.Thread(target=second)
    thread.start()
    wait_for_lock_wait(engine, outcome, what="the second insert to wait for the first")
    if first_commits:
        first.commit()
    else:
        first.rollback()
    first.close()
    thread.join(timeout=10)
    assert (outcome["job"] == mine) is first_commits
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_rating_and_dedup_on_sqlite(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine, expire_on_commit=False) as session:
        user, item = make_user(session), make_content(session)
        make_live_model(session)
        first = ratings.rate(session=session, user_id=user.id, content_id=item.id, score=3)
        again = ratings.rate(session=session, user_id=user.id, content_id=item.id, score=4.5)
        assert again.job is first.job
        with pytest.raises(NotFound):
            ratings.rate(session=session, user_id=user.id, content_id=987654321, score=3)
        session.commit()
        stored = session.get(Rating, (user.id, item.id))
        assert stored is not None and stored.score == 4.5
        assert stored.rated_at == again.rated_at  # aware UTC, as the ORM stores it
        types = session.scalars(select(Job.type).order_by(Job.id)).all()
        assert types == ["ratings.recompute_stats"]
        assert session.scalars(select(RefreshPending.user_id)).all() == [user.id]
