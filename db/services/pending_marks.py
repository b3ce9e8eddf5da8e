"""Marks of work that one coalesced drain job does later: a table of keys (titles whose
stats are due, viewers whose lists are due) and the SQL that adds, joins and takes them.
Callers commit.

A write marks its key in its own transaction and queues the one drain job of that table;
while the job is queued, every further write joins it. A mark that exists is share-locked
until the writer commits, not skipped: a drain skips a locked mark (it stays for the next
drain), and one that took the mark first is waited for. A plain DO NOTHING would let a
drain delete a mark whose write it cannot see yet, leaving that write unserved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Table, TextClause, delete, select, text
from sqlalchemy.orm import Session

MARK_ATTEMPTS = 10


@dataclass(frozen=True)
class Backlog:
    """A table of pending keys: one column, its primary key, named as the write's
    parameter (`:content_id`, `:user_id`)."""

    table: Table

    @property
    def key(self) -> Column[int]:
        (column,) = self.table.primary_key.columns
        return column

    def marking(self, source: str, guard: str = "") -> str:
        """CTEs `<table>_ins` and `<table>_old`: insert the mark from `source` or, when it
        exists, share-lock it until the caller commits."""
        name, key = self.table.name, self.key.name
        return (
            f"{name}_ins AS (INSERT INTO {name} ({key}) {source} ON CONFLICT DO NOTHING "  # noqa: S608
            f"RETURNING {key}), {name}_old AS (SELECT {key} FROM {name} WHERE {key} = :{key} "
            f"{guard}AND NOT EXISTS (SELECT 1 FROM {name}_ins) FOR SHARE)"
        )

    def held(self) -> str:
        """How many marks the marking CTEs hold (0 or 1)."""
        name = self.table.name
        return f"(SELECT count(*) FROM {name}_ins) + (SELECT count(*) FROM {name}_old)"  # noqa: S608


def write_and_mark(write: str, backlogs: Sequence[Backlog]) -> str:
    """PostgreSQL: a write (no RETURNING) of one row holding each backlog's key, with
    the marks, in one statement answering (rows written, marks held per backlog)."""
    ctes = ", ".join(
        b.marking(
            f"SELECT {b.key.name} FROM written",  # noqa: S608
            "AND EXISTS (SELECT 1 FROM written) ",
        )
        for b in backlogs
    )
    keys = ", ".join(b.key.name for b in backlogs)
    held = ", ".join(b.held() for b in backlogs)
    return (
        f"WITH written AS ({write} RETURNING {keys}), {ctes} "  # noqa: S608
        f"SELECT (SELECT count(*) FROM written), {held}"
    )


_statements: dict[tuple[str, str], TextClause] = {}


def _statement(backlog: Backlog, dialect: str) -> TextClause:
    found = _statements.get((backlog.table.name, dialect))
    if found is None:
        name, key = backlog.table.name, backlog.key.name
        if dialect == "postgresql":
            sql = f"WITH {backlog.marking(f'VALUES (:{key})')} SELECT {backlog.held()}"
        else:  # SQLite: one writer at a time, nothing to lock
            sql = f"INSERT INTO {name} ({key}) VALUES (:{key}) ON CONFLICT DO NOTHING"  # noqa: S608
        found = _statements[(name, dialect)] = text(sql)
    return found


def mark(*, session: Session, backlog: Backlog, key: int) -> None:
    """`key`'s work is due (the caller queues or joins the drain)."""
    dialect = session.get_bind().dialect.name
    statement = _statement(backlog, dialect)
    params = {backlog.key.name: key}
    if dialect != "postgresql":
        session.execute(statement, params)
        return
    for _ in range(MARK_ATTEMPTS):
        # 0: a mark appeared or went between the statement's snapshot and its lock.
        if session.execute(statement, params).scalar():
            return
    raise RuntimeError(f"could not mark {backlog.table.name} {key}")


def take(*, session: Session, backlog: Backlog, limit: int) -> list[int]:
    """Remove up to `limit` marks, lowest keys first, skipping those another drain or
    a writer still holds."""
    pending = select(backlog.key).order_by(backlog.key).limit(limit)
    if session.get_bind().dialect.name != "sqlite":
        pending = pending.with_for_update(skip_locked=True)
    taken = delete(backlog.table).where(backlog.key.in_(pending.scalar_subquery()))
    return list(session.scalars(taken.returning(backlog.key)))
