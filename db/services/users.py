"""Accounts: creation, lookup, authentication. Callers commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from db.models import ROLES, User, UserRole
from db.password_policy import check_password
from db.passwords import hash_password, verify_password

LOGIN_FAILED = "The email or password is not right."


class WrongPassword(InvalidInput):
    """The current password given to change it is not right."""

    def __init__(self) -> None:
        super().__init__(
            "The current password is not right.", details={"current_password": "is not right"}
        )


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    *,
    session: Session,
    email: str,
    password: str,
    display_name: str,
    roles: Iterable[str] = (),
) -> User:
    email = normalise_email(email)
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InvalidInput(f"unknown role {unknown[0]!r}", details={"role": f"one of {ROLES}"})
    check_password(password, email=email, display_name=display_name)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise _email_taken()
    user = User(email=email, password_hash=hash_password(password), display_name=display_name)
    user.role_rows = [UserRole(role=role) for role in sorted(set(roles) - {"user"})]
    try:
        with session.begin_nested():  # the unique constraint decides a concurrent sign-up
            session.add(user)
    except IntegrityError:
        raise _email_taken() from None
    return user


def _email_taken() -> Conflict:
    return Conflict("An account with this email already exists.", details={"email": "taken"})


def get_user(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def authenticate(*, session: Session, email: str, password: str) -> User:
    """One message and one argon2 verification whether or not the email exists."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise AuthenticationFailed(LOGIN_FAILED)
    return user


def update_profile(*, session: Session, user_id: int, display_name: str | None = None) -> User:
    user = get_user(session=session, user_id=user_id)
    if display_name is not None:
        user.display_name = display_name
    return user


def change_password(
    *, session: Session, user_id: int, current_password: str, new_password: str
) -> User:
    """Replace the password if `current_password` is right.

    The write is conditional on the hash just verified, so of two changes made with
    the same old password one wins and the other finds it no longer right (a read
    then a write would let both through on SQLite, which ignores row locks).
    """
    user = get_user(session=session, user_id=user_id)
    verified_hash = user.password_hash
    if not verify_password(verified_hash, current_password):
        raise WrongPassword
    check_password(new_password, email=user.email, display_name=user.display_name)
    changed = cast(
        CursorResult[Any],
        session.execute(
            update(User)
            .where(User.id == user_id, User.password_hash == verified_hash)
            .values(password_hash=hash_password(new_password))
        ),
    )
    if changed.rowcount != 1:
        raise WrongPassword
    return user
