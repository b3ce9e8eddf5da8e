"""db.after_commit: steps run after the outermost commit only, never after a rollback."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from db.after_commit import call_after_commit


def test_runs_after_the_commit_not_before(db_session: Session) -> None:
    ran: list[str] = []
    db_session.execute(text("SELECT 1"))
    call_after_commit(db_session, lambda: ran.append("a"))
    db_session.flush()
    assert ran == []
    db_session.commit()
    assert ran == ["a"]
    db_session.commit()  # once only
    assert ran == ["a"]


def test_a_rollback_drops_it(db_session: Session) -> None:
    ran: list[str] = []
    call_after_commit(db_session, lambda: ran.append("a"))
    db_session.rollback()
    db_session.commit()
    assert ran == []


def test_closing_without_a_commit_drops_it(session_factory: sessionmaker[Session]) -> None:
    ran: list[str] = []
    with session_factory() as session:
        call_after_commit(session, lambda: ran.append("a"))
    with session_factory() as session:
        session.commit()
    assert ran == []


def test_savepoints_keep_or_drop_their_own(db_session: Session) -> None:
    ran: list[str] = []
    call_after_commit(db_session, lambda: ran.append("outer"))
    with db_session.begin_nested():
        call_after_commit(db_session, lambda: ran.append("released"))
    assert ran == []  # a released savepoint is not a commit
    with pytest.raises(RuntimeError), db_session.begin_nested():
        call_after_commit(db_session, lambda: ran.append("rolled back"))
        raise RuntimeError("roll this savepoint back")
    with db_session.begin_nested():
        with pytest.raises(RuntimeError), db_session.begin_nested():
            call_after_commit(db_session, lambda: ran.append("inner rolled back"))
            raise RuntimeError("only the inner one")
        call_after_commit(db_session, lambda: ran.append("after inner"))
    db_session.commit()
    assert ran == ["outer", "released", "after inner"]


def test_a_failing_step_does_not_stop_the_others(db_session: Session) -> None:
    ran: list[str] = []

    def broken() -> None:
        raise OSError("cache away")

    call_after_commit(db_session, broken)
    call_after_commit(db_session, lambda: ran.append("b"))
    db_session.commit()
    assert ran == ["b"]
