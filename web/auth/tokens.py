"""flask-jwt-extended set-up: access and refresh tokens of one sign-in family.

Tokens carry the user's roles and the family id (`fam`); every authenticated
request asks the blocklist whether that family was revoked. Browsers get the
same tokens as HttpOnly cookies with a double-submit CSRF token.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, Response, after_this_request
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    create_refresh_token,
    set_access_cookies,
    set_refresh_cookies,
)

from db.models import User
from db.settings import Settings
from web.auth.revocation import REVOKED, defer
from web.auth.verified import VerifyingOnceJWTManager
from web.errors import error_response
from web.runtime import runtime

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=14)


def init_jwt(app: Flask, settings: Settings) -> JWTManager:
    app.config.update(
        JWT_SECRET_KEY=settings.resolved_secret_key,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_ACCESS_TOKEN_EXPIRES=ACCESS_TTL,
        JWT_REFRESH_TOKEN_EXPIRES=REFRESH_TTL,
        JWT_TOKEN_LOCATION=["headers", "cookies"],
        JWT_COOKIE_SECURE=settings.env == "production",
        JWT_COOKIE_SAMESITE="Lax",
        JWT_COOKIE_CSRF_PROTECT=True,
        JWT_REFRESH_COOKIE_PATH="/api/v1/auth",
        JWT_REFRESH_CSRF_COOKIE_PATH="/",
        JWT_SESSION_COOKIE=False,
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt = VerifyingOnceJWTManager(app)

    def unauthorized(reason: str) -> Response:
        return error_response(401, reason)

    jwt.unauthorized_loader(lambda msg: unauthorized(f"Sign in first: {msg[0].lower()}{msg[1:]}."))
    jwt.invalid_token_loader(lambda _msg: unauthorized("The token is not valid."))
    jwt.expired_token_loader(lambda _h, _p: unauthorized("The token has expired."))
    jwt.revoked_token_loader(lambda _h, _p: unauthorized(REVOKED))
    jwt.needs_fresh_token_loader(lambda _h, _p: unauthorized("A fresh sign-in is needed."))
    jwt.token_verification_failed_loader(lambda _h, _p: unauthorized("The token is not valid."))
    jwt.token_in_blocklist_loader(_is_revoked)
    return jwt


def _is_revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    family = payload.get("fam")
    if not isinstance(family, str):
        return True
    # A safe request's check rides along with its first Redis read (revocation.py).
    return not defer(family) and runtime().blocklist.is_revoked(family)


def issue_tokens(user: User, *, family_id: str, refresh_jti: str) -> dict[str, Any]:
    """A new access/refresh pair; also set as cookies on this response."""
    claims = {"roles": user.roles, "fam": family_id}
    access = create_access_token(identity=str(user.id), additional_claims=claims)
    refresh = create_refresh_token(
        identity=str(user.id), additional_claims={**claims, "jti": refresh_jti}
    )

    @after_this_request
    def _cookies(response: Response) -> Response:
        set_access_cookies(response, access)
        set_refresh_cookies(response, refresh)
        return response

    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": int(ACCESS_TTL.total_seconds()),
    }
