"""INSERT ... ON CONFLICT DO UPDATE for the two backends we run on.

Each (backend, table, columns, keys) statement is compiled once into SQL text:
SQLAlchemy builds and compiles an ON CONFLICT construct anew on every execution,
four times the cost of the statement's own round trip on the hot writes (stats,
factors).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert


def upsert(
    session: Session,
    table: Table,
    values: dict[str, Any] | Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
) -> None:
    """One row, or many with the same columns (one statement run for each: the driver
    batches the runs)."""
    rows = [values] if isinstance(values, dict) else list(values)
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    prepared = _prepared(dialect, table, tuple(rows[0]), tuple(keys))
    if prepared is not None:
        session.execute(prepared, rows[0] if len(rows) == 1 else rows)
        return
    for row in rows:
        session.execute(_construct(dialect, table, row, keys))


def _construct(dialect: str, table: Table, values: dict[str, Any], keys: Sequence[str]) -> Insert:
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(table).values(values)
    changes = {name: stmt.excluded[name] for name in values if name not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=changes)


@lru_cache(maxsize=256)
def _prepared(
    dialect: str, table: Table, names: tuple[str, ...], keys: tuple[str, ...]
) -> TextClause | None:
    """The statement as text with typed parameters, or None when the table fills in
    columns the caller left out (Python-side defaults a text statement cannot run)."""
    module = postgresql if dialect == "postgresql" else sqlite
    construct = _construct(dialect, table, {name: bindparam(name) for name in names}, keys)
    compiled = construct.compile(dialect=module.dialect(paramstyle="named"))
    if set(compiled.binds) - set(names):
        return None
    # Typed parameters: the columns' own conversions (UTC datetimes, JSON) still apply.
    params = (bindparam(name, type_=table.c[name].type) for name in names)
    return text(str(compiled)).bindparams(*params)
