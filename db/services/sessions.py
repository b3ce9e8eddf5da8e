"""Sign-in sessions as refresh-token families, with rotation and reuse detection.

Callers commit, then tell the blocklist about the families this revoked.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from db.errors import AuthenticationFailed
from db.models import TokenFamily
from db.models.base import utcnow

SESSION_ENDED = "This session has ended; sign in again."


class RefreshTokenReused(AuthenticationFailed):
    """A refresh token came back after it was rotated: its family is now revoked."""

    def __init__(self, family_id: str) -> None:
        super().__init__(SESSION_ENDED, details={"reason": "refresh token reused"})
        self.family_id = family_id


def new_token_id() -> str:
    return str(uuid.uuid4())


def start(*, session: Session, user_id: int, refresh_jti: str, ttl: timedelta) -> TokenFamily:
    family = TokenFamily(
        id=new_token_id(), user_id=user_id, current_jti=refresh_jti, expires_at=utcnow() + ttl
    )
    session.add(family)
    session.flush()
    return family


def rotate(
    *, session: Session, family_id: str, presented_jti: str, next_jti: str, ttl: timedelta
) -> TokenFamily:
    """Accept the family's current refresh token once; a reused one revokes the family.

    One conditional UPDATE is the guard, on every database: of two refreshes with the
    same token exactly one matches the row (SQLite ignores FOR UPDATE, so a read then a
    write let both through); the other is a reuse.
    """
    now = utcnow()
    rotated = cast(
        CursorResult[Any],
        session.execute(
            update(TokenFamily)
            .where(
                TokenFamily.id == family_id,
                TokenFamily.current_jti == presented_jti,
                TokenFamily.revoked_at.is_(None),
                TokenFamily.expires_at > now,
            )
            .values(current_jti=next_jti, refreshed_at=now, expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        ),
    )
    family = session.get(TokenFamily, family_id, populate_existing=True)
    if rotated.rowcount == 1 and family is not None:
        return family
    if family is None or family.revoked_at is not None or family.expires_at <= now:
        raise AuthenticationFailed(SESSION_ENDED)
    revoke(session=session, family_id=family_id, reason="reuse")
    raise RefreshTokenReused(family_id)


def revoke(*, session: Session, family_id: str, reason: str) -> bool:
    """Revoke the family unless it already is (the first reason stands); say whether
    this call did it."""
    revoked = cast(
        CursorResult[Any],
        session.execute(
            update(TokenFamily)
            .where(TokenFamily.id == family_id, TokenFamily.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
        ),
    )
    return bool(revoked.rowcount)


def revoke_all(
    *, session: Session, user_id: int, reason: str, keep: str | None = None
) -> list[str]:
    """Revoke every live family of the user but `keep`; return the ids revoked."""
    stmt = (
        update(TokenFamily)
        .where(TokenFamily.user_id == user_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
        .returning(TokenFamily.id)
    )
    if keep is not None:
        stmt = stmt.where(TokenFamily.id != keep)
    return list(session.scalars(stmt))


def is_revoked(*, session: Session, family_id: str) -> bool:
    row = session.execute(select(TokenFamily.revoked_at).where(TokenFamily.id == family_id)).first()
    # An unknown family (deleted user, forged id) counts as revoked.
    return row is None or row.revoked_at is not None
