"""Sign-up, sign-in, token refresh with rotation, sign-out."""

from __future__ import annotations

from typing import Any

from flask import Response, after_this_request
from flask_jwt_extended import get_jwt, jwt_required, unset_jwt_cookies

from db.errors import AuthenticationFailed
from db.models import User
from db.services import sessions, users
from web.auth.schemas import LoginIn, RegisterIn, TokensOut, UserEnvelope
from web.auth.tokens import REFRESH_TTL, issue_tokens
from web.blueprint import Blueprint
from web.rate_limits import (
    check_password_attempt,
    limit_from_settings,
    limiter,
    password_accepted,
    password_refused,
)
from web.runtime import db_session, runtime

blp = Blueprint("auth", __name__, description="Sign-up and sign-in")


@blp.post("/auth/register")
@limiter.limit(limit_from_settings("rate_limit_register_ip"))
@blp.arguments(RegisterIn())
@blp.response(201, UserEnvelope)
@blp.alt_response(409, description="Email taken")
@blp.alt_response(429, description="Too many sign-ups from this address")
def register(body: dict[str, Any]) -> dict[str, User]:
    session = db_session()
    user = users.create_user(session=session, **body)
    session.commit()
    return {"user": user}


@blp.post("/auth/login")
@limiter.limit(limit_from_settings("rate_limit_login_ip"))
@blp.arguments(LoginIn())
@blp.response(200, TokensOut)
@blp.alt_response(401, description="Wrong email or password")
@blp.alt_response(429, description="Too many attempts from this address")
def login(body: dict[str, Any]) -> dict[str, Any]:
    account = users.normalise_email(body["email"])
    check_password_attempt(account)
    session = db_session()
    try:
        user = users.authenticate(session=session, **body)
    except AuthenticationFailed:
        password_refused(account)
        raise
    password_accepted(account)
    jti = sessions.new_token_id()
    family = sessions.start(session=session, user_id=user.id, refresh_jti=jti, ttl=REFRESH_TTL)
    session.commit()
    return issue_tokens(user, family_id=family.id, refresh_jti=jti)


@blp.post("/auth/refresh")
@blp.response(200, TokensOut)
@blp.alt_response(401, description="Refresh token used before, revoked or expired")
@jwt_required(refresh=True)
def refresh() -> dict[str, Any]:
    claims = get_jwt()
    session = db_session()
    jti = sessions.new_token_id()
    try:
        family = sessions.rotate(
            session=session,
            family_id=claims["fam"],
            presented_jti=claims["jti"],
            next_jti=jti,
            ttl=REFRESH_TTL,
        )
    except sessions.RefreshTokenReused as reuse:
        session.commit()  # the family's revocation must stand although we answer 401
        runtime().blocklist.add([reuse.family_id])
        raise
    user = users.get_user(session=session, user_id=family.user_id)
    session.commit()
    return issue_tokens(user, family_id=family.id, refresh_jti=jti)


@blp.post("/auth/logout")
@blp.response(204)
@jwt_required(verify_type=False)
def logout() -> None:
    family_id = get_jwt()["fam"]
    session = db_session()
    sessions.revoke(session=session, family_id=family_id, reason="logout")
    session.commit()
    runtime().blocklist.add([family_id])

    @after_this_request
    def _forget_cookies(response: Response) -> Response:
        unset_jwt_cookies(response)
        return response
