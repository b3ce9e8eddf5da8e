"""Rows into a table in bulk: one COPY on PostgreSQL (psycopg 3, inside the session's
transaction), one executemany elsewhere. The bulk loads (imports, the synthetic
platform) write through here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session


def write_rows(
    session: Session,
    table: Table,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty_is_null: bool = True,
) -> None:
    """`rows` as values of the columns `names`. On PostgreSQL None and, with
    `empty_is_null`, the empty string are NULL (COPY's CSV reads an empty field so);
    without it an empty string stays one, and no value may be None."""
    if session.get_bind().dialect.name != "postgresql":
        batch = [dict(zip(names, row, strict=True)) for row in rows]
        if batch:
            session.execute(table.insert(), batch)
        return
    buffer = io.StringIO()
    # Datetimes print as ISO 8601 with their UTC offset; True/False read as booleans.
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    null = "" if empty_is_null else ", NULL '\\N'"
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv{null})"
    # The raw DBAPI (psycopg 3) connection of the session's transaction: COPY joins it.
    cursor = session.connection().connection.cursor()
    try:
        with cursor.copy(sql) as copy:
            copy.write(buffer.getvalue())
    finally:
        cursor.close()
