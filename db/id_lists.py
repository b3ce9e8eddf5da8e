"""A column among a list of ids, bound as one parameter.

On PostgreSQL the ids travel as one array (`column = ANY(:name)`): the statement's text
is the same for any count, so psycopg 3 prepares it once and nothing is rendered per id.
Elsewhere (SQLite) an expanding IN. Build a statement with it once per dialect.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute


def among(
    column: ColumnElement[Any] | QueryableAttribute[Any], name: str, dialect: str
) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(BigInteger)))
    return column.in_(bindparam(name, expanding=True))
