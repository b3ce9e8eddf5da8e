"""Query-string arguments of pages (`/content?id=123`)."""

from __future__ import annotations

from flask import request

from db.errors import InvalidInput, NotFound

MAX_ID = 2**63 - 1


def required_id(name: str = "id") -> int:
    raw = request.args.get(name, "")
    if not raw.isdigit():
        raise InvalidInput(f"The address needs ?{name}= followed by a number.")
    value = int(raw)
    if not 0 < value <= MAX_ID:
        raise NotFound("There is no such title.")
    return value


def page_number() -> int:
    raw = request.args.get("page", "1")
    return min(max(int(raw), 1), 10_000) if raw.isdigit() else 1
