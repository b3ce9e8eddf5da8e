"""Request input: JSON bodies parsed within bounds, and the base of every request schema
(text a database can store, strict booleans)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import abort
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load
from werkzeug.exceptions import BadRequest

from db.errors import InvalidInput

# No request of the API nests deeper than a few levels; a bound keeps every recursive
# walk downstream (schemas, our own checks, JSON columns) far from Python's stack limit.
MAX_DEPTH = 32
# More digits than any id, count or size (2**64 has 20). Python refuses to convert
# integers of more than 4300 digits, so they must not reach int() at all.
MAX_INT_DIGITS = 20
TOO_DEEP = f"The request body is nested more than {MAX_DEPTH} levels deep."


class BodyTooDeep(ValueError):
    """Nested deeper than MAX_DEPTH: a malformed body (400)."""


class NumberOutOfRange(ValueError):
    """A number no field or column can hold (NaN, Infinity, 1e400, 10**5000): a 422
    on its path, as any other value out of a field's range."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: number out of range")
        self.path = path


class _OutOfRange:
    """Stands in for a number while parsing; the walk after it names its path."""


OUT_OF_RANGE = _OutOfRange()


def _parse_int(text: str) -> int | _OutOfRange:
    return OUT_OF_RANGE if len(text.lstrip("-")) > MAX_INT_DIGITS else int(text)


def _parse_float(text: str) -> float | _OutOfRange:
    value = float(text)  # 1e400 is inf: no column or response can carry it
    return value if math.isfinite(value) else OUT_OF_RANGE


def _parse_constant(name: str) -> _OutOfRange:
    return OUT_OF_RANGE  # NaN, Infinity, -Infinity


def _check_bounds(value: Any) -> None:
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:  # a loop, not recursion: the input decides how deep it goes
        item, path, depth = stack.pop()
        if item is OUT_OF_RANGE:
            raise NumberOutOfRange(path or "body")
        if isinstance(item, dict):
            children: Any = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if depth > MAX_DEPTH:
            raise BodyTooDeep(TOO_DEEP)
        stack.extend(
            (child, f"{path}.{key}" if path else str(key), depth + 1) for key, child in children
        )


def load_json_body(data: str | bytes) -> Any:
    """json.loads for request bodies: bounded depth, and every number one that a field
    can hold; raises a ValueError subclass, as json.loads does."""
    try:
        value = json.loads(
            data,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except RecursionError:
        raise BodyTooDeep(TOO_DEEP) from None
    _check_bounds(value)
    return value


class BoundedJSONProvider(DefaultJSONProvider):
    """The app's JSON provider: Request.get_json() parses bodies with it."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return load_json_body(s)


class BoundedJsonRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if isinstance(e, NumberOutOfRange):
            raise InvalidInput(
                "The request has invalid fields.", details={e.path: "number out of range"}
            )
        if isinstance(e, BodyTooDeep):
            raise BadRequest(TOO_DEEP)
        if e is None:
            return super().on_json_loading_failed(e)
        # The same answer webargs gives a body that is not JSON.
        abort(400, messages={"json": ["Invalid JSON body."]})


def _check_json_body() -> None:
    """Every JSON body is parsed here first, so every endpoint gets the bounds; the
    schemas' parser (web/blueprint.py) then takes the parsed body from the request."""
    if request.is_json and request.get_data(cache=True):
        request.get_json()


def init_json_bodies(app: Flask) -> None:
    app.json = BoundedJSONProvider(app)
    app.request_class = BoundedJsonRequest
    app.before_request(_check_json_body)


def _bad_text(value: str) -> bool:
    # NUL is refused by PostgreSQL; lone surrogates cannot be encoded as UTF-8.
    return "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value)


def _find_bad_text(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if _bad_text(value) else None
    if isinstance(value, Mapping):  # JSON objects, and webargs' proxies of query strings
        for key in value:
            if isinstance(key, str) and _bad_text(key):
                return f"{path}.(a key)" if path else "(a key)"
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _find_bad_text(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


class InputSchema(Schema):
    class Meta:
        unknown = RAISE

    @pre_load
    def _refuse_unstorable_text(self, data: Any, **_: Any) -> Any:
        where = _find_bad_text(data, "")
        if where is not None:
            raise ValidationError("contains characters that are not allowed", field_name=where)
        return data


class StrictBoolean(fields.Boolean):
    """true or false only: not 0, 1, "yes" or "on"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
