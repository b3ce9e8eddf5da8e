"""Factories for test data, built through the services so invariants hold."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from db.models import Content, User
from db.services import content as catalogue
from db.services import users

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_user(session: Session, *, roles: tuple[str, ...] = (), email: str | None = None) -> User:
    n = next(_seq)
    return users.create_user(
        session=session,
        email=email or f"user{n}@example.org",
        password=PASSWORD,
        display_name=f"User {n}",
        roles=roles,
    )


def make_content(session: Session, *, owner: User | None = None, **fields: object) -> Content:
    n = next(_seq)
    values: dict[str, object] = {"title": f"Title {n}", "genres": ["Drama"], **fields}
    return catalogue.create_content(
        session=session,
        owner_id=owner.id if owner else None,
        **values,
    )
