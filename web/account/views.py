"""The signed-in user's own things: profile, password, preferences, history."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import get_jwt
from marshmallow import Schema, fields

from db.models import User
from db.read_models.titles import with_viewer
from db.services import preferences, sessions, users, viewing
from web.auth.roles import current_user_id, require_roles
from web.auth.schemas import PasswordChange, Preferences, ProfilePatch, UserOut
from web.blueprint import Blueprint
from web.content.schemas import ContentOut
from web.discovery.titles import Raw, array, documents, json_response, obj
from web.pagination import PageArgs, page_document, page_schema
from web.rate_limits import check_password_attempt, password_accepted, password_refused
from web.runtime import db_session, runtime

blp = Blueprint("account", __name__, description="Your account")


class HistoryEntryOut(Schema):
    content = fields.Nested(ContentOut)
    position_s = fields.Float()
    completed = fields.Boolean()
    watched_at = fields.DateTime()
    your_rating = fields.Float(allow_none=True)


@blp.get("/me")
@blp.response(200, UserOut)
@require_roles()
def me() -> User:
    return users.get_user(session=db_session(), user_id=current_user_id())


@blp.patch("/me")
@blp.arguments(ProfilePatch(), required=False)
@blp.response(200, UserOut)
@require_roles()
def patch_me(body: dict[str, Any]) -> User:
    session = db_session()
    user = users.update_profile(session=session, user_id=current_user_id(), **body)
    session.commit()
    return user


@blp.put("/me/password")
@blp.arguments(PasswordChange())
@blp.response(204)
@blp.alt_response(429, description="Too many wrong passwords from this address")
@require_roles()
def change_password(body: dict[str, Any]) -> None:
    session = db_session()
    user_id = current_user_id()
    # Wrong current passwords count with wrong sign-ins: both are guesses at it.
    account = users.get_user(session=session, user_id=user_id).email
    check_password_attempt(account)
    try:
        users.change_password(session=session, user_id=user_id, **body)
    except users.WrongPassword:
        password_refused(account)
        raise
    password_accepted(account)
    # Every other sign-in of this account ends; this one carries on.
    revoked = sessions.revoke_all(
        session=session, user_id=user_id, reason="password", keep=get_jwt()["fam"]
    )
    session.commit()
    runtime().blocklist.add(revoked)


@blp.get("/me/preferences")
@blp.response(200, Preferences)
@require_roles()
def get_preferences() -> dict[str, list[str]]:
    return {"genres": preferences.get_genres(session=db_session(), user_id=current_user_id())}


@blp.put("/me/preferences")
@blp.arguments(Preferences())
@blp.response(200, Preferences)
@require_roles()
def put_preferences(body: dict[str, Any]) -> dict[str, list[str]]:
    session = db_session()
    genres = preferences.set_genres(
        session=session, user_id=current_user_id(), names=body["genres"]
    )
    session.commit()
    return {"genres": genres}


@blp.get("/me/history")
@blp.arguments(PageArgs(), location="query")
@blp.response(200, page_schema(HistoryEntryOut, "HistoryPage"))
@require_roles()
def history(args: dict[str, int]) -> Any:
    session = db_session()
    entries, total = viewing.history(session=session, user_id=current_user_id(), **args)
    docs = documents(session, [e.content_id for e in entries])
    items = [
        obj(
            content=Raw(with_viewer(docs[e.content_id], e.your_rating, None)),
            position_s=float(e.position_s),
            completed=e.completed,
            watched_at=e.watched_at.isoformat(),
            your_rating=e.your_rating,
        )
        for e in entries
        if e.content_id in docs
    ]
    page = page_document([], total=total, **args)
    return json_response(obj(**{**page, "items": Raw(array(items))}))
