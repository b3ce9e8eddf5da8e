"""The one-statement dedup insert of a job row (db/services/jobs.py `enqueue`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnDefault, bindparam, select, text
from sqlalchemy.orm import Session

from db.models import Job

_INSERTED = [column for column in Job.__table__.c if column.name != "id"]
# Text, compiled once: SQLAlchemy 2.0 compiles a dialect's INSERT ... ON CONFLICT anew
# on every execution (it has no cache key), which cost more CPU than the round trip.
# The names are the model's own; the predicate is the one of uq_jobs_queued_dedup.
_INSERT_UNLESS_QUEUED = select(Job).from_statement(
    text(
        f"INSERT INTO jobs ({', '.join(c.name for c in _INSERTED)}) "  # noqa: S608
        f"VALUES ({', '.join(':' + c.name for c in _INSERTED)}) "
        "ON CONFLICT (dedup_key) WHERE status = 'queued' DO NOTHING "
        f"RETURNING {', '.join(c.name for c in Job.__table__.c)}"
    )
    .bindparams(*(bindparam(c.name, type_=c.type) for c in _INSERTED))
    .columns(*Job.__table__.c)
)


def insert_unless_queued(*, session: Session, values: dict[str, Any]) -> Job | None:
    """INSERT ... ON CONFLICT DO NOTHING on the partial unique index of queued keys: the
    new row, or None when a queued job holds `values["dedup_key"]`. A conflicting insert
    still in flight is waited for, so this never raises on it (nor needs a savepoint).
    Columns left out of `values` get the model's Python-side defaults, as with the ORM."""
    row = {column.name: _default(column.default) for column in _INSERTED}
    return session.scalars(_INSERT_UNLESS_QUEUED, row | values).one_or_none()


def _default(default: Any) -> Any:
    if not isinstance(default, ColumnDefault):
        return None
    return default.arg(None) if default.is_callable else default.arg
