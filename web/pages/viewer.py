"""Who is looking at a page: the access-token cookie, read without failing the page.

Pages render for anonymous visitors too; an expired access cookie next to a refresh
cookie asks the page's script to refresh the session and reload (see static/js/api.js).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

from flask import g, redirect, render_template, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError

from db.errors import PermissionDenied
from db.models import User
from web.runtime import db_session

F = TypeVar("F", bound=Callable[..., Any])
REFRESH_CSRF_COOKIE = "csrf_refresh_token"


@dataclass(frozen=True)
class Viewer:
    user: User
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def id(self) -> int:
        return self.user.id

    def holds(self, *roles: str) -> bool:
        return bool(self.roles & {*roles, "admin"})


def current_viewer() -> Viewer | None:
    """The signed-in user of this page request, or None (also for a bad or expired cookie)."""
    if "viewer" in g:
        viewer: Viewer | None = g.viewer
        return viewer
    g.viewer = None
    try:
        verify_jwt_in_request(optional=True, locations=["cookies"])
        claims = get_jwt()
    except (JWTExtendedException, PyJWTError):
        claims = {}
    if claims.get("sub"):
        user = db_session().get(User, int(claims["sub"]))
        if user is not None:
            g.viewer = Viewer(user=user, roles=frozenset(claims.get("roles", [])))
    return g.viewer


def session_needs_refresh() -> bool:
    """No usable access cookie, but a refresh cookie was set: the script renews the session."""
    return current_viewer() is None and REFRESH_CSRF_COOKIE in request.cookies


def signed_in(*roles: str) -> Callable[[F], F]:
    """Pages for signed-in users (holding one of `roles`, if any): others go to /login."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            viewer = current_viewer()
            if viewer is None and session_needs_refresh():
                return render_template("refreshing.html", title="Signing you back in")
            if viewer is None:
                return redirect(f"/login?next={quote(request.full_path.rstrip('?'))}")
            if viewer is not None and roles and not viewer.holds(*roles):
                raise PermissionDenied(f"This page needs the {' or '.join(roles)} role.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
