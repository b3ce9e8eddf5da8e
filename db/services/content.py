"""The catalogue: create, read, list, change, delete. Callers commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Select, delete, func, select, update
from sqlalchemy.orm import Session

from db.errors import InvalidInput, NotFound, PermissionDenied
from db.models import Content, ContentStats, Genre, content_genres
from db.read_models.sync import mark_changed
from db.services import jobs

Sort = Literal["newest", "rating", "popular"]
PURGE_JOB = "media.purge_title"


def list_genres(*, session: Session) -> list[str]:
    return list(session.scalars(select(Genre.name).order_by(Genre.name)))


def resolve_genres(*, session: Session, names: Sequence[str]) -> list[Genre]:
    wanted = list(dict.fromkeys(names))
    found = {g.name.lower(): g for g in session.scalars(select(Genre))}
    unknown = [name for name in wanted if name.lower() not in found]
    if unknown:
        raise InvalidInput(
            f"Unknown genre {unknown[0]!r}.", details={"genres": f"unknown genre {unknown[0]!r}"}
        )
    return list({found[name.lower()].id: found[name.lower()] for name in wanted}.values())


def create_content(
    *,
    session: Session,
    owner_id: int | None,
    title: str,
    description: str = "",
    genres: Sequence[str] = (),
    release_year: int | None = None,
) -> Content:
    content = Content(
        owner_id=owner_id,
        title=title,
        description=description,
        release_year=release_year,
        genres=resolve_genres(session=session, names=genres),
    )
    session.add(content)
    session.flush()
    session.add(ContentStats(content_id=content.id, rating_count=0))
    session.flush()
    return content


def exists(*, session: Session, content_id: int) -> bool:
    return session.scalar(select(Content.id).where(Content.id == content_id)) is not None


def get_content(*, session: Session, content_id: int) -> Content:
    content = session.get(Content, content_id)
    if content is None:
        raise NotFound(f"No content {content_id}.")
    return content


def _searched(stmt: Select[Any], q: str) -> Select[Any]:
    # Match the text literally: % and _ in a search are characters, not wildcards.
    pattern = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return stmt.where(func.lower(Content.title).like(f"%{pattern}%", escape="\\"))


def list_content(
    *,
    session: Session,
    q: str | None = None,
    genre: str | None = None,
    sort: Sort = "newest",
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[int], int]:
    """A page of title ids (the documents come from the read model) and the total."""
    filtered = select(Content.id)
    if q:
        filtered = _searched(filtered, q)
    if genre:
        (found,) = resolve_genres(session=session, names=[genre])
        in_genre = select(content_genres.c.content_id).where(content_genres.c.genre_id == found.id)
        filtered = filtered.where(Content.id.in_(in_genre))
    # Every title has a stats row, so the count needs no join (it was most of a page's
    # cost at 100k titles); only the page itself joins stats for the sort.
    total = session.scalar(filtered.with_only_columns(func.count(Content.id)).order_by(None))
    stmt = filtered.join(ContentStats, ContentStats.content_id == Content.id)
    order: dict[str, tuple[Any, ...]] = {
        "newest": (Content.created_at.desc(), Content.id.desc()),
        "rating": (ContentStats.rating_bayesian.desc().nulls_last(), ContentStats.content_id),
        "popular": (ContentStats.rating_count.desc(), ContentStats.content_id),
    }
    rows = session.scalars(
        stmt.order_by(*order[sort]).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), int(total or 0)


def lock_content(*, session: Session, content_id: int, key_share: bool = False) -> bool:
    """Lock the title's row until the caller commits; False when it is gone.

    PostgreSQL: FOR UPDATE, or with `key_share` FOR NO KEY UPDATE, which inserting
    rows that reference the title (their foreign key check takes KEY SHARE) does not
    wait for. SQLite ignores FOR UPDATE: a write that changes nothing takes its
    database write lock instead.
    """
    if session.get_bind().dialect.name != "sqlite":
        stmt = select(Content.id).where(Content.id == content_id)
        return session.scalar(stmt.with_for_update(key_share=key_share)) is not None
    touched = session.execute(
        update(Content)
        .where(Content.id == content_id)
        .values(updated_at=Content.updated_at)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], touched).rowcount == 1


def editable_content(*, session: Session, content_id: int, user_id: int, is_admin: bool) -> Content:
    """The content, if this user may change it (its owner or an admin), locked until the
    caller commits: a concurrent delete then waits, or has already made this a 404,
    instead of an update that matches no row."""
    content = (
        session.get(Content, content_id)
        if lock_content(session=session, content_id=content_id)
        else None
    )
    if content is None:
        raise NotFound(f"No content {content_id}.")
    if not is_admin and content.owner_id != user_id:
        raise PermissionDenied("Only the owner or an admin may change this content.")
    return content


def update_content(
    *,
    session: Session,
    content_id: int,
    user_id: int,
    is_admin: bool,
    changes: dict[str, Any],
) -> Content:
    content = editable_content(
        session=session, content_id=content_id, user_id=user_id, is_admin=is_admin
    )
    if "genres" in changes:
        content.genres = resolve_genres(session=session, names=changes.pop("genres"))
    for name in ("title", "description", "release_year"):
        if name in changes:
            setattr(content, name, changes[name])
    session.flush()
    return content


def delete_content(*, session: Session, content_id: int, user_id: int, is_admin: bool) -> None:
    """Delete the title and (by cascade) its rows. Its stored files are removed by a job
    published after the commit; the web stops serving them at the commit, when the
    video row that names the published set is gone."""
    editable_content(session=session, content_id=content_id, user_id=user_id, is_admin=is_admin)
    session.execute(delete(Content).where(Content.id == content_id))
    mark_changed(session, [content_id])  # a Core delete: the ORM does not see it
    jobs.enqueue(session=session, type=PURGE_JOB, args={"content_id": content_id})
