"""Deduplicated job rows in as few statements as the backend allows (for
db/services/jobs.py `enqueue`).

The statements are text, compiled once: SQLAlchemy 2.0 compiles a dialect's INSERT ...
ON CONFLICT anew on every execution (it has no cache key), which cost more CPU than
the round trip. The column names are the model's own; the conflict predicate is the
one of the partial unique index uq_jobs_queued_dedup.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnDefault,
    Integer,
    TextualSelect,
    bindparam,
    column,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from db.models import Job
from db.outbox import publish_after_commit

_INSERTED = [c for c in Job.__table__.c if c.name != "id"]
_ALL = ", ".join(c.name for c in Job.__table__.c)


def _insert(suffix: str = "") -> str:
    return (
        f"INSERT INTO jobs ({', '.join(c.name for c in _INSERTED)}) "  # noqa: S608
        f"VALUES ({', '.join(f':{c.name}{suffix}' for c in _INSERTED)}) "
        f"ON CONFLICT (dedup_key) WHERE status = 'queued' DO NOTHING RETURNING {_ALL}"
    )


def _textual(sql: str, binds: Any, *extra: Any) -> TextualSelect:
    return text(sql).bindparams(*binds).columns(*Job.__table__.c, *extra)


_INSERT_ONLY_STMT = select(Job).from_statement(
    _textual(_insert(), (bindparam(c.name, type_=c.type) for c in _INSERTED))
)
_SLOT = (column("inserted", Boolean), column("slot", Integer))


@lru_cache(maxsize=4)
def _insert_or_join(n: int) -> ExecutableReturnsRows:
    """PostgreSQL: n inserts and, for each that conflicts, the queued row share-locked, in
    one statement. Its parts share the statement's snapshot: a conflicting row committed
    while an insert waited for it is not found, and the caller tries again."""
    ctes, rows = [], []
    for i in range(n):
        ctes.append(
            f"ins{i} AS ({_insert(f'_{i}')}), old{i} AS (SELECT {_ALL} FROM jobs "  # noqa: S608
            f"WHERE dedup_key = :dedup_key_{i} AND status = 'queued' "
            f"AND NOT EXISTS (SELECT 1 FROM ins{i}) FOR SHARE)"
        )
        rows.append(
            f"SELECT {_ALL}, true, {i} FROM ins{i} UNION ALL SELECT {_ALL}, false, {i} FROM old{i}"  # noqa: S608
        )
    sql = f"WITH {', '.join(ctes)} {' UNION ALL '.join(rows)}"
    binds = (bindparam(f"{c.name}_{i}", type_=c.type) for i in range(n) for c in _INSERTED)
    return select(Job, *_SLOT).from_statement(_textual(sql, binds, *_SLOT))


def insert_or_join(*, session: Session, values: dict[str, Any]) -> Job | None:
    """A new queued job (registered with the outbox), or the queued job that holds
    `values["dedup_key"]`, share-locked until this transaction ends; None when that one
    started or went meanwhile (try again). A conflicting insert still in flight is
    waited for, so this never raises on it and needs no savepoint. Columns left out
    of `values` get the model's Python-side defaults, as with the ORM."""
    if session.get_bind().dialect.name == "postgresql":
        return insert_or_join_many(session=session, values=[values])[0]
    params = _with_defaults(values)
    job = session.scalars(_INSERT_ONLY_STMT, params).one_or_none()
    if job is not None:
        publish_after_commit(session, job)  # not a flush of session.new: tell the outbox
        return job
    return queued(session=session, dedup_key=values["dedup_key"])


def insert_or_join_many(*, session: Session, values: Sequence[dict[str, Any]]) -> list[Job | None]:
    """PostgreSQL: `insert_or_join` for jobs of distinct dedup keys in one statement,
    in their order (None: try that one again)."""
    if len({v["dedup_key"] for v in values}) != len(values):
        raise ValueError("one statement cannot insert two jobs of the same dedup key")
    params: dict[str, Any] = {}
    for i, one in enumerate(values):
        params |= {f"{name}_{i}": value for name, value in _with_defaults(one).items()}
    found: list[Job | None] = [None] * len(values)
    for job, inserted, slot in session.execute(_insert_or_join(len(values)), params):
        found[slot] = job
        if inserted:
            publish_after_commit(session, job)
    return found


def _with_defaults(values: dict[str, Any]) -> dict[str, Any]:
    return {c.name: _default(c.default) for c in _INSERTED} | values


def queued(*, session: Session, dedup_key: str) -> Job | None:
    """The queued job holding the key, share-locked (where the backend locks rows)."""
    return session.scalar(
        select(Job)
        .where(Job.dedup_key == dedup_key, Job.status == "queued")
        .with_for_update(read=True)
    )


def _default(default: Any) -> Any:
    if not isinstance(default, ColumnDefault):
        return None
    return default.arg(None) if default.is_callable else default.arg
