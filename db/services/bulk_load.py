"""Bulk loads of an outside catalogue: titles with genres, users, ratings, stats.

Callers commit: everything happens in the session's transaction, so a failure
leaves nothing half-loaded, and loading the same rows again changes nothing.

Rows go first into temporary staging tables (PostgreSQL: COPY; elsewhere batched
executemany), then into the real tables with set-based INSERT ... SELECT ... ON
CONFLICT statements that map source ids to database ids by joins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db.copy_rows import write_rows
from db.errors import InvalidInput
from db.models import Content, ContentStats, Genre, Rating, User, content_genres
from db.models.base import UTCDateTime, utcnow
from db.services import stats_backlog
from db.services.ratings import global_mean

# Imported accounts cannot sign in: this is no argon2 hash, so verify_password is False.
UNUSABLE_HASH = "!imported"
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")

# (user source id, title source id, score, rated_at)
RatingIn = tuple[str, str, float, datetime]
Progress = Callable[[int, int | None], None]


class TitleIn(Protocol):
    @property
    def source_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def release_year(self) -> int | None: ...
    @property
    def genres(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Counts:
    total: int
    new: int
    updated: int

    @property
    def unchanged(self) -> int:
        return self.total - self.new - self.updated


@dataclass(frozen=True)
class LoadResult:
    titles: Counts
    users: Counts
    ratings: Counts


# Staging tables: temporary, one session's, dropped at the end (or by the rollback).
_staging = MetaData()
_TITLES = Table(
    "import_stage_titles",
    _staging,
    Column("source_id", Text),
    Column("title", Text),
    Column("release_year", Integer),
    prefixes=["TEMPORARY"],
)
_GENRES = Table(
    "import_stage_genres",
    _staging,
    Column("source_id", Text),
    Column("genre", Text),
    prefixes=["TEMPORARY"],
)
_USERS = Table("import_stage_users", _staging, Column("source_id", Text), prefixes=["TEMPORARY"])
_RATINGS = Table(
    "import_stage_ratings",
    _staging,
    Column("user_source_id", Text),
    Column("content_source_id", Text),
    Column("score", Float),
    Column("rated_at", UTCDateTime),
    prefixes=["TEMPORARY"],
)
# Source id -> database id of the source's users and titles. Joining on these
# (analyzed) rather than on users and content, whose statistics do not know of the
# rows this transaction just added, keeps PostgreSQL on hash joins.
_USER_IDS = Table(
    "import_stage_user_ids",
    _staging,
    Column("source_id", Text),
    Column("id", BigInteger),
    prefixes=["TEMPORARY"],
)
_CONTENT_IDS = Table(
    "import_stage_content_ids",
    _staging,
    Column("source_id", Text),
    Column("id", BigInteger),
    prefixes=["TEMPORARY"],
)
_RATING_IDS = Table(
    "import_stage_rating_ids",
    _staging,
    Column("user_id", BigInteger),
    Column("content_id", BigInteger),
    Column("score", Float),
    Column("rated_at", UTCDateTime),
    prefixes=["TEMPORARY"],
)

# An INSERT's row count is kept only when asked for (psycopg 3 forgets it at close).
_ROWCOUNT = {"preserve_rowcount": True}
_CONTENT: Table = Content.__table__  # type: ignore[assignment]
_USERS_TABLE: Table = User.__table__  # type: ignore[assignment]
_STATS: Table = ContentStats.__table__  # type: ignore[assignment]
_RATINGS_TABLE: Table = Rating.__table__  # type: ignore[assignment]
_GENRE_TABLE: Table = Genre.__table__  # type: ignore[assignment]


def load(
    *,
    session: Session,
    source: str,
    titles: Iterable[TitleIn],
    ratings: Iterable[RatingIn],
    users: Iterable[str] = (),
    user_label: str = "Imported user",
    expected_rows: int | None = None,
    progress: Progress | None = None,
    batch_size: int = 50_000,
) -> LoadResult:
    """Upsert titles (by source, source_id) and their genres, the users that `users`
    lists or that rate, and the ratings; then recompute the affected content_stats.

    Ratings name their user and title by source id; titles must be in `titles` or
    loaded from the same source before. Each (user, title) pair may occur once.
    Progress counts each row twice, staged and merged: (done, total), with total
    from `expected_rows` (titles + ratings) while the real count is not known.
    """
    if not _SOURCE.match(source):
        raise InvalidInput(f"The source {source!r} is not a short lower-case name.")
    meter = _Meter(progress, expected_rows)
    stage = _Stager(session, meter, batch_size)
    now = utcnow()
    for table in _staging.sorted_tables:
        # A failed load on SQLite may leave its temporary tables on a pooled connection.
        table.drop(session.connection(), checkfirst=True)
        table.create(session.connection())

    genre_rows: list[tuple[str, str]] = []

    def title_rows() -> Iterator[tuple[str, str, int | None]]:
        for row in titles:
            genre_rows.extend((row.source_id, genre) for genre in row.genres)
            yield row.source_id, row.title, row.release_year

    title_count = stage.rows(_TITLES, title_rows())
    stage.rows(_GENRES, iter(genre_rows), count=False)
    title_counts = _merge_titles(session, source, title_count, now)
    meter.add(title_count)

    rating_count = stage.rows(_RATINGS, iter(ratings))
    stage.rows(_USERS, ((user,) for user in users), count=False)
    user_counts = _merge_users(session, source, user_label, now)
    rating_counts = _merge_ratings(session, source, rating_count)
    meter.add(rating_count)
    _recompute_stats(session, everything=bool(rating_counts.new or rating_counts.updated))
    for table in reversed(_staging.sorted_tables):
        table.drop(session.connection())
    meter.finish()
    return LoadResult(titles=title_counts, users=user_counts, ratings=rating_counts)


class _Meter:
    def __init__(self, callback: Progress | None, expected_rows: int | None) -> None:
        self.callback = callback
        self.done = 0
        self.total = 2 * expected_rows if expected_rows is not None else None

    def add(self, rows: int) -> None:
        self.done += rows
        if self.callback is not None:
            self.callback(self.done, None if self.total is None else max(self.total, self.done))

    def finish(self) -> None:
        self.total = self.done
        self.add(0)


class _Stager:
    """Rows into a staging table in batches (db/copy_rows.py), counted."""

    def __init__(self, session: Session, meter: _Meter, batch_size: int) -> None:
        self.session = session
        self.meter = meter
        self.batch_size = batch_size

    def rows(self, table: Table, rows: Iterator[Sequence[Any]], *, count: bool = True) -> int:
        names = [column.name for column in table.columns]
        total = 0
        while batch := list(islice(rows, self.batch_size)):
            write_rows(self.session, table, names, batch)
            total += len(batch)
            if count:
                self.meter.add(len(batch))
        _analyze(self.session, table)
        return total


def _analyze(session: Session, table: Table) -> None:
    # Autovacuum never analyzes temporary tables, and the merges join on them.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {table.name}"))


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _at(now: datetime) -> Any:
    return literal(now, UTCDateTime())


def _is_ours(source: str, table: Table, source_id: ColumnElement[Any]) -> ColumnElement[bool]:
    return and_(table.c.source == source, table.c.source_id == source_id)


def _map_ids(session: Session, ids: Table, table: Table, source: str) -> None:
    """Fill a source id -> id map with every row of the source (not only this load's)."""
    session.execute(
        insert(ids).from_select(
            ["source_id", "id"],
            select(table.c.source_id, table.c.id).where(table.c.source == source),
        )
    )
    _analyze(session, ids)


def _merge_titles(session: Session, source: str, total: int, now: datetime) -> Counts:
    staged, content = _TITLES, _CONTENT
    ours = _is_ours(source, content, staged.c.source_id)
    repeated = session.scalar(
        select(staged.c.source_id).group_by(staged.c.source_id).having(func.count() > 1).limit(1)
    )
    if repeated is not None:
        raise InvalidInput(f"Title {repeated!r} occurs more than once in the import.")
    unknown = session.scalar(
        select(_GENRES.c.genre)
        .where(~select(_GENRE_TABLE.c.id).where(_GENRE_TABLE.c.name == _GENRES.c.genre).exists())
        .limit(1)
    )
    if unknown is not None:
        raise InvalidInput(f"Unknown genre {unknown!r}.", details={"genres": "unknown genre"})
    new = session.scalar(
        select(func.count()).select_from(staged).where(~select(content.c.id).where(ours).exists())
    )
    rows = select(
        staged.c.title,
        literal(""),
        staged.c.release_year,
        literal(source),
        staged.c.source_id,
        _at(now),
        _at(now),
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    upsert = _insert(session, content).from_select(
        ["title", "description", "release_year", "source", "source_id", "created_at", "updated_at"],
        rows,
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=["source", "source_id"],
        set_={
            "title": upsert.excluded.title,
            "release_year": upsert.excluded.release_year,
            "updated_at": upsert.excluded.updated_at,
        },
        where=or_(
            content.c.title.is_distinct_from(upsert.excluded.title),
            content.c.release_year.is_distinct_from(upsert.excluded.release_year),
        ),
    ).returning(content.c.id)
    changed = set(session.scalars(upsert))
    _map_ids(session, _CONTENT_IDS, content, source)
    changed.update(_merge_genres(session))
    return Counts(total=total, new=int(new or 0), updated=len(changed) - int(new or 0))


def _merge_genres(session: Session) -> list[int]:
    """Make each loaded title's genres exactly the staged ones; the ids that changed."""
    links, ids, genres = content_genres, _CONTENT_IDS, _GENRE_TABLE
    wanted = (
        select(ids.c.id.label("content_id"), genres.c.id.label("genre_id"))
        .select_from(_GENRES)
        .join(ids, ids.c.source_id == _GENRES.c.source_id)
        .join(genres, genres.c.name == _GENRES.c.genre)
        .subquery("wanted")
    )
    loaded = select(ids.c.id).join(_TITLES, _TITLES.c.source_id == ids.c.source_id)
    stale = (
        delete(links)
        .where(
            links.c.content_id.in_(loaded),
            ~select(wanted.c.content_id)
            .where(wanted.c.content_id == links.c.content_id, wanted.c.genre_id == links.c.genre_id)
            .exists(),
        )
        .returning(links.c.content_id)
    )
    removed = list(session.scalars(stale))
    missing = (
        _insert(session, links)
        .from_select(
            ["content_id", "genre_id"],
            select(wanted.c.content_id, wanted.c.genre_id).distinct().where(true()),
        )
        .on_conflict_do_nothing()
        .returning(links.c.content_id)
    )
    return removed + list(session.scalars(missing))


def _merge_users(session: Session, source: str, label: str, now: datetime) -> Counts:
    users = _USERS_TABLE
    session.execute(
        insert(_USERS).from_select(["source_id"], select(_RATINGS.c.user_source_id).distinct())
    )
    staged = select(_USERS.c.source_id).distinct().subquery("staged")
    total = session.scalar(select(func.count()).select_from(staged))
    new = session.scalar(
        select(func.count())
        .select_from(staged)
        .where(~select(users.c.id).where(_is_ours(source, users, staged.c.source_id)).exists())
    )
    rows = select(
        func.lower(literal(f"{source}-") + staged.c.source_id + literal("@import.invalid")),
        literal(UNUSABLE_HASH),
        literal(f"{label} ") + staged.c.source_id,
        _at(now),
        literal(source),
        staged.c.source_id,
    ).where(true())
    session.execute(
        _insert(session, users)
        .from_select(
            ["email", "password_hash", "display_name", "created_at", "source", "source_id"], rows
        )
        .on_conflict_do_nothing(index_elements=["source", "source_id"])
    )
    _map_ids(session, _USER_IDS, users, source)
    return Counts(total=int(total or 0), new=int(new or 0), updated=0)


def _merge_ratings(session: Session, source: str, total: int) -> Counts:
    staged, resolved, ratings = _RATINGS, _RATING_IDS, _RATINGS_TABLE
    mapped = session.execute(
        insert(resolved).from_select(
            ["user_id", "content_id", "score", "rated_at"],
            select(_USER_IDS.c.id, _CONTENT_IDS.c.id, staged.c.score, staged.c.rated_at)
            .select_from(staged)
            .join(_USER_IDS, _USER_IDS.c.source_id == staged.c.user_source_id)
            .join(_CONTENT_IDS, _CONTENT_IDS.c.source_id == staged.c.content_source_id),
        ),
        execution_options=_ROWCOUNT,
    )
    if getattr(mapped, "rowcount", total) != total:
        missing = session.scalar(
            select(staged.c.content_source_id)
            .where(
                ~select(_CONTENT_IDS.c.id)
                .where(_CONTENT_IDS.c.source_id == staged.c.content_source_id)
                .exists()
            )
            .limit(1)
        )
        raise InvalidInput(f"A rating is of title {missing!r}, which {source} does not have.")
    _analyze(session, resolved)
    same_pair = and_(
        ratings.c.user_id == resolved.c.user_id, ratings.c.content_id == resolved.c.content_id
    )
    new = int(
        session.scalar(
            select(func.count())
            .select_from(resolved)
            .where(~select(ratings.c.user_id).where(same_pair).exists())
        )
        or 0
    )
    upsert = _insert(session, ratings).from_select(
        ["user_id", "content_id", "score", "rated_at"],
        select(resolved.c.user_id, resolved.c.content_id, resolved.c.score, resolved.c.rated_at)
        .where(true())
        # In key order the primary key's B-tree grows at its right edge instead
        # of splitting pages all over.
        .order_by(resolved.c.user_id, resolved.c.content_id),
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=["user_id", "content_id"],
        set_={"score": upsert.excluded.score, "rated_at": upsert.excluded.rated_at},
        where=or_(
            ratings.c.score.is_distinct_from(upsert.excluded.score),
            ratings.c.rated_at.is_distinct_from(upsert.excluded.rated_at),
        ),
    )
    written = session.execute(upsert, execution_options=_ROWCOUNT)
    return Counts(total=total, new=new, updated=getattr(written, "rowcount", new) - new)


def _recompute_stats(session: Session, *, everything: bool) -> None:
    """content_stats from the ratings table, as the drain computes them.

    New or changed ratings move the global mean, the prior of every title's Bayesian
    mean, so then every title is recomputed; otherwise only the loaded titles (which
    need a stats row even when nobody rated them). Rows that come out the same are
    not written, so a repeated load changes nothing.
    """
    affected = (
        select(_CONTENT.c.id.label("content_id"))
        if everything
        else select(_CONTENT_IDS.c.id.label("content_id")).join(
            _TITLES, _TITLES.c.source_id == _CONTENT_IDS.c.source_id
        )
    )
    stats_backlog.recompute(session, affected, prior_mean=global_mean(session=session))


def catalogue_is_empty(*, session: Session) -> bool:
    """Whether there is no content at all (seeding a demo catalogue asks first)."""
    return session.scalar(select(_CONTENT.c.id).limit(1)) is None
