"""Accounts: register, log in, who am I."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from db.models import User
from db.services import users
from web.auth.roles import current_user_id, require_roles
from web.auth.schemas import LoginIn, RegisterIn, TokensOut, UserEnvelope, UserOut
from web.auth.tokens import issue_tokens
from web.runtime import db_session

blp = Blueprint("accounts", __name__, description="Accounts")


@blp.post("/auth/register")
@blp.arguments(RegisterIn)
@blp.response(201, UserEnvelope)
@blp.alt_response(409, description="Email taken")
def register(body: dict[str, Any]) -> dict[str, User]:
    session = db_session()
    user = users.create_user(session=session, **body)
    session.commit()
    return {"user": user}


@blp.post("/auth/login")
@blp.arguments(LoginIn)
@blp.response(200, TokensOut)
@blp.alt_response(401, description="Wrong email or password")
def login(body: dict[str, Any]) -> dict[str, Any]:
    user = users.authenticate(session=db_session(), **body)
    return issue_tokens(user)


@blp.get("/me")
@blp.response(200, UserOut)
@require_roles()
def me() -> User:
    return users.get_user(session=db_session(), user_id=current_user_id())
