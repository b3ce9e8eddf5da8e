"""A synthetic platform written straight into an empty catalogue, column arrays in.

`cbrtl demo synth` measures the platform at millions of viewers, so it skips what an
import needs (staging, source-id mapping, upserts): the catalogue is empty, the ids
are given (viewers after the highest id in use), and each chunk goes in with one COPY on
PostgreSQL (batched inserts elsewhere). Memory stays bounded by the chunk the caller
hands over. Callers commit: everything is in the session's transaction, so a failure
leaves nothing behind. `finish` computes every title's stats in one grouped statement
and moves the id sequences past the rows written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from db.copy_rows import write_rows
from db.errors import InvalidInput
from db.models import Content, Genre, Rating, User, ViewingProgress, content_genres
from db.services import stats_backlog
from db.services.bulk_load import UNUSABLE_HASH
from db.services.ratings import global_mean

SOURCE = "synth"
EMAIL = "viewer{}@synth.cbrtl.invalid"  # .invalid: no mail ever leaves for these
_USERS: Table = User.__table__  # type: ignore[assignment]
_CONTENT: Table = Content.__table__  # type: ignore[assignment]
_RATINGS: Table = Rating.__table__  # type: ignore[assignment]
_VIEWS: Table = ViewingProgress.__table__  # type: ignore[assignment]
_TITLE_COLUMNS = ["id", "title", "description", "release_year", "duration_s", "created_at",
                  "updated_at", "source", "source_id"]  # fmt: skip
_SEQUENCES = ("users", "content")  # their ids are given here
_GROWN = ("users", "content", "content_genres", "content_stats", "ratings", "viewing_progress")
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Offsets:
    """Synthetic user number n (1-based) gets database id users + n (titles, in an
    empty catalogue, get n); and the large tables' foreign keys and secondary indexes,
    set aside until `finish`."""

    users: int
    set_aside: tuple[tuple[str, str, str], ...] = ()  # (table, name, definition)


def start(*, session: Session) -> Offsets:
    """Refuse a catalogue that has titles or ratings already; else where the ids begin."""
    titles = session.scalar(select(func.count()).select_from(_CONTENT)) or 0
    ratings = session.scalar(select(_RATINGS.c.user_id).limit(1))
    synthetic = session.scalar(select(_USERS.c.id).where(_USERS.c.source == SOURCE).limit(1))
    if titles or ratings is not None or synthetic is not None:
        raise InvalidInput(
            f"A synthetic platform needs an empty catalogue; this one has {titles} titles"
            f"{' and ratings' if ratings is not None else ''}. Use a new database "
            "(CBRTL_DATABASE_URL) and `cbrtl db upgrade`."
        )
    top_user = session.scalar(select(func.max(_USERS.c.id))) or 0
    set_aside = _set_aside(session) if _is_postgresql(session) else ()
    return Offsets(users=int(top_user), set_aside=set_aside)


def _set_aside(session: Session) -> tuple[tuple[str, str, str], ...]:
    """Drop the foreign keys and secondary indexes of the large tables, keeping their
    exact definitions: COPY then skips a key lookup and index updates per row, and
    `finish` builds each index once and validates each key in one pass. All of it is
    in the transaction, so a failure puts them back."""
    found = session.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text IN "
            "('ratings', 'viewing_progress') "
            "UNION ALL SELECT indrelid::regclass::text, indexrelid::regclass::text, "
            "pg_get_indexdef(indexrelid) FROM pg_index WHERE NOT indisprimary "
            "AND NOT indisunique AND indrelid::regclass::text IN ('ratings', 'viewing_progress')"
        )
    ).all()
    for table, name, definition in found:
        if definition.startswith("CREATE"):
            session.execute(text(f'DROP INDEX "{name}"'))
        else:
            session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    return tuple((t, n, d) for t, n, d in found)


def users(session: Session, offsets: Offsets, numbers: Ints, joined_at: Ints) -> None:
    """Viewer accounts that cannot sign in (like imported ones)."""
    ids = (numbers + offsets.users).tolist()
    _write(
        session,
        _USERS,
        ["id", "email", "password_hash", "display_name", "created_at", "source", "source_id"],
        [
            (i, EMAIL.format(n), UNUSABLE_HASH, f"Viewer {n}", at, SOURCE, str(n))
            for i, n, at in zip(ids, numbers.tolist(), _times(session, joined_at), strict=True)
        ],
    )


def titles(
    session: Session,
    names: Sequence[str],
    years: Ints,
    durations_s: Floats,
    added_at: Ints,
    genres: Sequence[Sequence[str]],
) -> None:
    """Titles 1..len(names), with their genres (names from the `genres` table)."""
    ids = list(range(1, len(names) + 1))
    at = _times(session, added_at)
    _write(
        session,
        _CONTENT,
        _TITLE_COLUMNS,
        [
            (i, name, "", year, length, when, when, SOURCE, str(i))
            for i, name, year, length, when in zip(
                ids, names, years.tolist(), durations_s.tolist(), at, strict=True
            )
        ],
    )
    genre_ids = {name: id_ for name, id_ in session.execute(select(Genre.name, Genre.id))}
    unknown = {g for row in genres for g in row} - set(genre_ids)
    if unknown:
        raise InvalidInput(f"Unknown genres: {', '.join(sorted(unknown))}.")
    _write(
        session,
        content_genres,
        ["content_id", "genre_id"],
        [(i, genre_ids[g]) for i, row in zip(ids, genres, strict=True) for g in row],
    )


def ratings(
    session: Session, offsets: Offsets, users: Ints, titles: Ints, scores: Floats, at: Ints
) -> None:
    _write(
        session,
        _RATINGS,
        ["user_id", "content_id", "score", "rated_at"],
        zip(
            (users + offsets.users).tolist(),
            titles.tolist(),
            scores.tolist(),
            _times(session, at),
            strict=True,
        ),
    )


def views(
    session: Session,
    offsets: Offsets,
    users: Ints,
    titles: Ints,
    positions_s: Floats,
    completed: npt.NDArray[np.bool_],
    at: Ints,
) -> None:
    _write(
        session,
        _VIEWS,
        ["user_id", "content_id", "position_s", "completed", "watched_at"],
        zip(
            (users + offsets.users).tolist(),
            titles.tolist(),
            positions_s.tolist(),
            completed.tolist(),
            _times(session, at),
            strict=True,
        ),
    )


def finish(*, session: Session, offsets: Offsets) -> None:
    """The indexes and keys set aside, every title's stats, the id sequences past the
    rows written, fresh planner statistics for the tables that grew."""
    if offsets.set_aside:  # one sort per index, in memory where it fits (a bulk job)
        session.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        session.execute(text("SET LOCAL work_mem = '256MB'"))
    for table, name, definition in offsets.set_aside:
        if definition.startswith("CREATE"):
            session.execute(text(definition))
        else:
            session.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
    stats_backlog.recompute(
        session,
        select(_CONTENT.c.id.label("content_id")),
        prior_mean=global_mean(session=session),
    )
    if not _is_postgresql(session):
        return  # SQLite's rowids follow the largest id by themselves
    for table in _SEQUENCES:  # names from the list above, never from input
        top = f"SELECT max(id) FROM {table}"  # noqa: S608
        session.execute(
            text(f"SELECT setval(pg_get_serial_sequence(:name, 'id'), ({top}))"), {"name": table}
        )
    for table in _GROWN:
        session.execute(text(f"ANALYZE {table}"))


def _write(
    session: Session, table: Table, names: list[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    # Titles have an empty description, which must stay a string.
    write_rows(session, table, names, rows, empty_is_null=False)


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _times(session: Session, seconds: Ints) -> list[Any]:
    """Seconds since 1970 as COPY reads timestamptz (vectorised), or as datetimes."""
    if _is_postgresql(session):
        texts = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
        return [t + "+00" for t in texts.tolist()]
    return [datetime.fromtimestamp(s, UTC) for s in seconds.tolist()]
