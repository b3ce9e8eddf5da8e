"""A user's taste as they state it: genres. Callers commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from db.models import Genre, GenrePreference
from db.services.content import resolve_genres

# Built once: the home page asks on every signed-in request.
_LIKED = (
    select(Genre.name)
    .join(GenrePreference, GenrePreference.genre_id == Genre.id)
    .where(GenrePreference.user_id == bindparam("user_id"))
    .order_by(Genre.name)
)


def get_genres(*, session: Session, user_id: int) -> list[str]:
    return [name for (name,) in session.connection().execute(_LIKED, {"user_id": user_id})]


def set_genres(*, session: Session, user_id: int, names: Sequence[str]) -> list[str]:
    genres = resolve_genres(session=session, names=names)
    session.execute(delete(GenrePreference).where(GenrePreference.user_id == user_id))
    session.add_all(GenrePreference(user_id=user_id, genre_id=g.id) for g in genres)
    session.flush()
    return sorted(g.name for g in genres)
