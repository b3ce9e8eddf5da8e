"""Query-string arguments of pages (`/content?id=123`)."""

from __future__ import annotations

from flask import request

from db.errors import InvalidInput, NotFound

MAX_ID = 2**63 - 1
MAX_DIGITS = 19  # of MAX_ID; longer is no id (and int() refuses > 4300 digits anyway)


def _number(raw: str) -> int | None:
    """Plain ASCII digits only: "²".isdigit() is true, but int("²") fails."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS else None


def required_id(name: str = "id") -> int:
    raw = request.args.get(name, "")
    value = _number(raw)
    if value is None and raw.isascii() and raw.isdigit():
        raise NotFound("There is no such title.")  # a number, just too large to be an id
    if value is None:
        raise InvalidInput(f"The address needs ?{name}= followed by a number.")
    if not 0 < value <= MAX_ID:
        raise NotFound("There is no such title.")
    return value


def page_number() -> int:
    value = _number(request.args.get("page", "1"))
    return min(max(value, 1), 10_000) if value is not None else 1
