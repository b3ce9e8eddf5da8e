"""Marks of work that one coalesced drain job does later: a table of keys (titles whose
stats are due, viewers whose lists are due) and the SQL that adds, joins and takes them.
Callers commit.

A write marks its key in its own transaction and queues (or joins) the drain job. Two
kinds of backlog:

- plain (stats): a mark that exists is share-locked until the writer commits, not
  skipped; a drain removes the marks it takes at once, skipping locked ones (they stay
  for the next drain), and one that took the mark first is waited for. A plain DO
  NOTHING would let a drain delete a mark whose write it cannot see yet. It suits a
  drain whose work is one short statement.
- stamped (lists): every marking writes a fresh random `token`; a drain reads marks
  without locking them and, once its work is done, removes only those still holding
  the stamp it read. A write never waits for a drain's work, only for its last
  statement, and a mark stamped meanwhile stays for the next drain. It suits a drain
  whose work takes a while.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Column, Table, TextClause, bindparam, delete, select, text
from sqlalchemy.orm import Session

MARK_ATTEMPTS = 10


@dataclass(frozen=True)
class Backlog:
    """A table of pending keys: its primary key, named as the write's parameter
    (`:content_id`, `:user_id`), and with `stamped` a `token` column (`:token`)."""

    table: Table
    stamped: bool = False

    @property
    def key(self) -> Column[int]:
        (column,) = self.table.primary_key.columns
        return column

    def marking(self, source: str, guard: str = "") -> str:
        """CTEs `<table>_ins` and (plain) `<table>_old`: insert the mark from `source`
        or, when it exists, share-lock it (stamped: stamp it anew)."""
        name, key = self.table.name, self.key.name
        if self.stamped:
            return (
                f"{name}_ins AS (INSERT INTO {name} ({key}, token) {source} "
                f"ON CONFLICT ({key}) DO UPDATE SET token = excluded.token RETURNING {key})"
            )
        return (
            f"{name}_ins AS (INSERT INTO {name} ({key}) {source} ON CONFLICT DO NOTHING "  # noqa: S608
            f"RETURNING {key}), {name}_old AS (SELECT {key} FROM {name} WHERE {key} = :{key} "
            f"{guard}AND NOT EXISTS (SELECT 1 FROM {name}_ins) FOR SHARE)"
        )

    def columns(self, key: str) -> str:
        """What a marking inserts: `key`, and the stamp when the backlog has one."""
        return f"{key}, :token" if self.stamped else key

    def held(self) -> str:
        """How many marks the marking CTEs hold (0 or 1)."""
        name = self.table.name
        if self.stamped:
            return f"(SELECT count(*) FROM {name}_ins)"  # noqa: S608
        return f"(SELECT count(*) FROM {name}_ins) + (SELECT count(*) FROM {name}_old)"  # noqa: S608


def write_and_mark(write: str, backlogs: Sequence[Backlog]) -> str:
    """PostgreSQL: a write (no RETURNING) of one row holding each backlog's key, with
    the marks, in one statement answering (rows written, marks held per backlog)."""
    ctes = ", ".join(
        b.marking(
            f"SELECT {b.columns(b.key.name)} FROM written",  # noqa: S608
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


def stamp() -> int:
    """A fresh token for a stamped marking."""
    return secrets.randbits(62)


@lru_cache(maxsize=8)
def _statement(backlog: Backlog, dialect: str) -> TextClause:
    name, key = backlog.table.name, backlog.key.name
    row = f"VALUES ({backlog.columns(':' + key)})"
    if dialect == "postgresql":
        return text(f"WITH {backlog.marking(row)} SELECT {backlog.held()}")
    # SQLite: one writer at a time, nothing to lock
    if backlog.stamped:
        return text(f"INSERT INTO {name} ({key}, token) {row} "
                    f"ON CONFLICT ({key}) DO UPDATE SET token = excluded.token")  # fmt: skip
    return text(f"INSERT INTO {name} ({key}) {row} ON CONFLICT DO NOTHING")


def mark(*, session: Session, backlog: Backlog, key: int) -> None:
    """`key`'s work is due (the caller queues or joins the drain)."""
    dialect = session.get_bind().dialect.name
    statement = _statement(backlog, dialect)
    params = {backlog.key.name: key} | ({"token": stamp()} if backlog.stamped else {})
    if dialect != "postgresql":
        session.execute(statement, params)
        return
    for _ in range(MARK_ATTEMPTS):
        # 0 (plain only): a mark appeared or went between the snapshot and the lock.
        if session.execute(statement, params).scalar():
            return
    raise RuntimeError(f"could not mark {backlog.table.name} {key}")


def take(*, session: Session, backlog: Backlog, limit: int) -> list[int]:
    """Plain: remove up to `limit` marks, lowest keys first, skipping those another
    drain or a writer still holds."""
    pending = select(backlog.key).order_by(backlog.key).limit(limit)
    if session.get_bind().dialect.name != "sqlite":
        pending = pending.with_for_update(skip_locked=True)
    taken = delete(backlog.table).where(backlog.key.in_(pending.scalar_subquery()))
    return list(session.scalars(taken.returning(backlog.key)))


def read_stamped(*, session: Session, backlog: Backlog, limit: int) -> list[tuple[int, int]]:
    """Stamped: up to `limit` (key, stamp) marks, lowest keys first, neither removed nor
    locked; `forget` them once their work is done."""
    query = select(backlog.key, backlog.table.c.token).order_by(backlog.key).limit(limit)
    return [(key, token) for key, token in session.execute(query)]


def forget(*, session: Session, backlog: Backlog, marks: Sequence[tuple[int, int]]) -> None:
    """Stamped: remove the marks still holding the stamps read; one stamped anew since
    stays (one being stamped now is waited for, then stays)."""
    if not marks:
        return
    if session.get_bind().dialect.name == "postgresql":  # two arrays: one statement
        keys, tokens = [k for k, _ in marks], [t for _, t in marks]
        session.execute(_forget_pg(backlog), {"keys": keys, "tokens": tokens})
        return
    pair = delete(backlog.table).where(
        backlog.key == bindparam("k"), backlog.table.c.token == bindparam("t")
    )
    session.execute(pair, [{"k": k, "t": t} for k, t in marks])


@lru_cache(maxsize=4)
def _forget_pg(backlog: Backlog) -> TextClause:
    name, key = backlog.table.name, backlog.key.name
    return text(
        f"DELETE FROM {name} USING unnest(CAST(:keys AS BIGINT[]), "  # noqa: S608
        f"CAST(:tokens AS BIGINT[])) AS read(k, t) "
        f"WHERE {name}.{key} = read.k AND {name}.token = read.t"
    )
