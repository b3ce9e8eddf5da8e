"""`?page=&per_page=` in, `{items, page, per_page, total}` out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from web.input import InputSchema


class PageArgs(InputSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_schema(item: type[Schema] | Schema, name: str) -> type[Schema]:
    """The paginated envelope around `item`, named for the OpenAPI document."""
    return Schema.from_dict(
        {
            "items": fields.List(fields.Nested(item)),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
            "total": fields.Integer(),
        },
        name=name,
    )


def page_document(items: list[Any], *, page: int, per_page: int, total: int) -> dict[str, Any]:
    return {"items": items, "page": page, "per_page": per_page, "total": total}
