"""Sign-in sessions as refresh-token families, with rotation and reuse detection.

Callers commit, then tell the blocklist about the families this revoked.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
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
    """Accept the family's current refresh token once; a reused one revokes the family."""
    family = session.scalar(
        select(TokenFamily).where(TokenFamily.id == family_id).with_for_update()
    )
    now = utcnow()
    if family is None or family.revoked_at is not None or family.expires_at <= now:
        raise AuthenticationFailed(SESSION_ENDED)
    if family.current_jti != presented_jti:
        _revoke(family, "reuse", now)
        raise RefreshTokenReused(family.id)
    family.current_jti = next_jti
    family.refreshed_at = now
    family.expires_at = now + ttl
    return family


def _revoke(family: TokenFamily, reason: str, now: datetime) -> None:
    family.revoked_at = now
    family.revoked_reason = reason


def revoke(*, session: Session, family_id: str, reason: str) -> None:
    family = session.get(TokenFamily, family_id)
    if family is not None and family.revoked_at is None:
        _revoke(family, reason, utcnow())


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
