"""The catalogue. Callers commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.errors import InvalidInput, NotFound
from db.models import Content, Genre


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
    return [found[name.lower()] for name in wanted]


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
    return content


def get_content(*, session: Session, content_id: int) -> Content:
    content = session.get(Content, content_id)
    if content is None:
        raise NotFound(f"No content {content_id}.")
    return content
