"""URL converters: ids that the database can hold, or a 404."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import BaseConverter, IntegerConverter

MAX_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive 64-bit integer; anything larger is no such resource."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def id_schema(_converter: Any) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class UploadIdConverter(BaseConverter):
    """`<upload_id:name>`: the 32 hex digits of an upload id (db/services/uploads.py);
    anything else (a NUL byte, which PostgreSQL refuses, or 5,000 characters) is no
    such upload, answered by routing before a query is made."""

    regex = "[0-9a-f]{32}"


def upload_id_schema(_converter: Any) -> dict[str, Any]:
    return {"type": "string", "pattern": "^[0-9a-f]{32}$"}
