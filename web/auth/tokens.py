"""flask-jwt-extended set-up: tokens carry the user's roles; failures are 401s."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, Response
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token

from db.models import User
from web.errors import error_response

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=14)


def init_jwt(app: Flask, secret_key: str) -> JWTManager:
    app.config.update(
        JWT_SECRET_KEY=secret_key,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_ACCESS_TOKEN_EXPIRES=ACCESS_TTL,
        JWT_REFRESH_TOKEN_EXPIRES=REFRESH_TTL,
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ERROR_MESSAGE_KEY="message",
    )
    jwt = JWTManager(app)

    def unauthorized(reason: str) -> Response:
        return error_response(401, reason)

    jwt.unauthorized_loader(lambda _msg: unauthorized("Sign in first: no access token was sent."))
    jwt.invalid_token_loader(lambda _msg: unauthorized("The token is not valid."))
    jwt.expired_token_loader(lambda _h, _p: unauthorized("The token has expired."))
    jwt.revoked_token_loader(lambda _h, _p: unauthorized("The token has been revoked."))
    jwt.needs_fresh_token_loader(lambda _h, _p: unauthorized("A fresh sign-in is needed."))
    jwt.token_verification_failed_loader(lambda _h, _p: unauthorized("The token is not valid."))
    jwt.user_lookup_error_loader(lambda _h, _p: unauthorized("The account no longer exists."))
    return jwt


def issue_tokens(user: User) -> dict[str, Any]:
    claims = {"roles": user.roles}
    return {
        "access_token": create_access_token(identity=str(user.id), additional_claims=claims),
        "refresh_token": create_refresh_token(identity=str(user.id), additional_claims=claims),
        "token_type": "Bearer",
        "expires_in": int(ACCESS_TTL.total_seconds()),
    }
