"""The id lists discovery serves (rows, neighbours, new titles): ids only, in one query
each; the documents come from the title read model. Callers commit (none write)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Content, ContentStats, Genre, SimilarItem, content_genres


def best_rated(*, session: Session, genre: str | None, limit: int) -> list[int]:
    """The best rated titles (Bayesian mean), optionally of one genre (unknown: none)."""
    stmt = select(ContentStats.content_id)
    if genre is not None:
        stmt = (
            stmt.join(content_genres, content_genres.c.content_id == ContentStats.content_id)
            .join(Genre, Genre.id == content_genres.c.genre_id)
            .where(Genre.name == genre)
        )
    stmt = stmt.order_by(
        ContentStats.rating_bayesian.desc().nulls_last(), ContentStats.content_id
    ).limit(limit)
    return list(session.scalars(stmt))


def similar(*, session: Session, content_id: int, limit: int) -> list[int]:
    """The title's learned neighbours, nearest first."""
    return list(
        session.scalars(
            select(SimilarItem.similar_id)
            .where(SimilarItem.content_id == content_id)
            .order_by(SimilarItem.rank)
            .limit(limit)
        )
    )


def first_genre(*, session: Session, content_id: int) -> str | None:
    return session.scalar(
        select(Genre.name)
        .join(content_genres, content_genres.c.genre_id == Genre.id)
        .where(content_genres.c.content_id == content_id)
        .order_by(Genre.name)
        .limit(1)
    )


def newest_unrated(*, session: Session, limit: int) -> list[tuple[int, int | None]]:
    """(id, owner id) of titles nobody has rated yet, newest first: no model can rank
    them, so they get a slot in lists."""
    rows = session.execute(
        select(Content.id, Content.owner_id)
        .join(ContentStats, ContentStats.content_id == Content.id)
        .where(ContentStats.rating_count == 0)
        .order_by(Content.created_at.desc(), Content.id.desc())
        .limit(limit)
    )
    return [(content_id, owner_id) for content_id, owner_id in rows]
