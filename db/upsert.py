"""INSERT ... ON CONFLICT DO UPDATE for the two backends we run on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert(
    session: Session,
    table: Table,
    values: dict[str, Any],
    *,
    keys: Sequence[str],
) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values)
    changes = {name: stmt.excluded[name] for name in values if name not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changes))
