"""Signing in and up, choosing genres, the profile. Forms post JSON to the API
(static/js/forms.js), so the rules and errors are the API's own."""

from __future__ import annotations

import json

from flask import Blueprint, redirect, render_template, request
from werkzeug.wrappers import Response

from db.read_models.titles import with_viewer
from db.services import content as catalogue
from db.services import preferences, viewing
from web.discovery.titles import documents
from web.pages.query import page_number
from web.pages.viewer import current_viewer, signed_in
from web.runtime import db_session

blp = Blueprint("account_pages", __name__)
HISTORY_PAGE = 20


def next_page() -> str:
    """Where to go after signing in: only a path on this site (no open redirect)."""
    target = request.args.get("next", "/")
    # Browsers read a backslash as a slash ("/\host" is "//host"), so none may pass.
    local = target.startswith("/") and not target.startswith("//")
    return target if local and "\\" not in target and target.isprintable() else "/"


@blp.get("/login")
def login() -> str | Response:
    if current_viewer() is not None:
        return redirect(next_page())
    return render_template("login.html", title="Sign in", next=next_page())


@blp.get("/register")
def register() -> str | Response:
    if current_viewer() is not None:
        return redirect("/")
    return render_template("register.html", title="Create an account")


@blp.get("/welcome")
@signed_in()
def welcome() -> str:
    session = db_session()
    viewer = current_viewer()
    assert viewer is not None
    return render_template(
        "welcome.html",
        title="Pick your genres",
        genres=catalogue.list_genres(session=session),
        liked=set(preferences.get_genres(session=session, user_id=viewer.id)),
    )


@blp.get("/profile")
@signed_in()
def profile() -> str:
    session = db_session()
    viewer = current_viewer()
    assert viewer is not None
    page = page_number()
    entries, total = viewing.history(
        session=session, user_id=viewer.id, page=page, per_page=HISTORY_PAGE
    )
    docs = documents(session, [e.content_id for e in entries])
    history = [
        {
            "content": json.loads(with_viewer(docs[e.content_id], e.your_rating, None)),
            "position_s": e.position_s,
            "completed": e.completed,
            "watched_at": e.watched_at,
        }
        for e in entries
        if e.content_id in docs
    ]
    return render_template(
        "profile.html",
        title="Your profile",
        genres=catalogue.list_genres(session=session),
        liked=set(preferences.get_genres(session=session, user_id=viewer.id)),
        history=history,
        page=page,
        pages=max(1, -(-total // HISTORY_PAGE)),
    )
