"""Deduplicated job rows in as few statements as the backend allows (for
db/services/jobs.py `enqueue`).

The statements are text, compiled once: SQLAlchemy 2.0 compiles a dialect's INSERT ...
ON CONFLICT anew on every execution (it has no cache key), which cost more CPU than
the round trip. The column names are the model's own; the conflict predicate is the
one of the partial unique index uq_jobs_queued_dedup.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnDefault, TextualSelect, bindparam, column, select, text
from sqlalchemy.orm import Session

from db.models import Job
from db.outbox import publish_after_commit

_INSERTED = [c for c in Job.__table__.c if c.name != "id"]
_ALL = ", ".join(c.name for c in Job.__table__.c)
_INSERT = (
    f"INSERT INTO jobs ({', '.join(c.name for c in _INSERTED)}) "  # noqa: S608
    f"VALUES ({', '.join(':' + c.name for c in _INSERTED)}) "
    f"ON CONFLICT (dedup_key) WHERE status = 'queued' DO NOTHING RETURNING {_ALL}"
)
# PostgreSQL: the insert and, on conflict, the queued row share-locked, in one statement.
# Its parts share the statement's snapshot: a conflicting row committed while the insert
# waited for it is not found, and the caller tries again.
_INSERT_OR_JOIN = (
    f"WITH ins AS ({_INSERT}), "  # noqa: S608
    f"old AS (SELECT {_ALL} FROM jobs WHERE dedup_key = :dedup_key AND status = 'queued' "
    "AND NOT EXISTS (SELECT 1 FROM ins) FOR SHARE) "
    f"SELECT {_ALL}, true AS inserted FROM ins UNION ALL SELECT {_ALL}, false FROM old"
)


def _textual(sql: str, *extra: Any) -> TextualSelect:
    binds = (bindparam(c.name, type_=c.type) for c in _INSERTED)
    return text(sql).bindparams(*binds).columns(*Job.__table__.c, *extra)


_INSERT_ONLY_STMT = select(Job).from_statement(_textual(_INSERT))
_INSERT_OR_JOIN_STMT = select(Job, column("inserted", Boolean)).from_statement(
    _textual(_INSERT_OR_JOIN, column("inserted", Boolean))
)


def insert_or_join(*, session: Session, values: dict[str, Any]) -> Job | None:
    """A new queued job (registered with the outbox), or the queued job that holds
    `values["dedup_key"]`, share-locked until this transaction ends; None when that one
    started or went meanwhile (try again). A conflicting insert still in flight is
    waited for, so this never raises on it and needs no savepoint. Columns left out
    of `values` get the model's Python-side defaults, as with the ORM."""
    params = {c.name: _default(c.default) for c in _INSERTED} | values
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(_INSERT_OR_JOIN_STMT, params).one_or_none()
        job, inserted = (row[0], bool(row[1])) if row is not None else (None, False)
    else:
        job = session.scalars(_INSERT_ONLY_STMT, params).one_or_none()
        inserted = job is not None
        job = job or queued(session=session, dedup_key=values["dedup_key"])
    if job is not None and inserted:
        publish_after_commit(session, job)  # not a flush of session.new: tell the outbox
    return job


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
