"""The base of every request schema: text a database can store, strict booleans."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load


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
