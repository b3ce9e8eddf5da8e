"""The one place routes say who may call them."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask_jwt_extended import get_jwt, get_jwt_identity, verify_jwt_in_request

from db.errors import PermissionDenied

F = TypeVar("F", bound=Callable[..., Any])


def require_roles(*roles: str) -> Callable[[F], F]:
    """Signed in, and holding one of `roles` (admin may do everything). No roles: any user."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verify_jwt_in_request()
            held = set(get_jwt().get("roles", []))
            if roles and not held & {*roles, "admin"}:
                raise PermissionDenied(f"This needs the {' or '.join(roles)} role.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def has_role(role: str) -> bool:
    """Within a signed-in request: does the token carry `role`?"""
    return role in get_jwt().get("roles", [])


def current_user_id() -> int:
    return int(get_jwt_identity())


def optional_user_id() -> int | None:
    """The caller's id when a valid token came with the request, else None."""
    verify_jwt_in_request(optional=True)
    identity = get_jwt_identity()
    return int(identity) if identity is not None else None
