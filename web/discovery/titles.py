"""Title documents as a viewer sees them: the read model (db/read_models/titles.py)
with the viewer's own fields laid over, as JSON text ready to send.

The API joins these texts into its response bodies; the pages parse them. Neither
builds a title from ORM objects on the read path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import Response
from sqlalchemy.orm import Session

from db.errors import NotFound
from db.read_models import viewer
from db.read_models.titles import Stored, with_viewer
from web.auth.revocation import rider
from web.runtime import runtime


def documents(
    session: Session, ids: Sequence[int], *, prefetched: Mapping[int, Stored] | None = None
) -> dict[int, str]:
    """{id: document} for those that exist (deleted titles drop out); the first Redis
    read of a request carries its revocation check. `prefetched`: values read earlier."""
    return runtime().titles.documents(session, ids, rider(), prefetched=prefetched)


def my_ratings(session: Session, user_id: int | None, ids: Iterable[int]) -> dict[int, float]:
    """The viewer's scores of these titles, in one query (none when signed out)."""
    if user_id is None:
        return {}
    return viewer.scores(session, user_id, ids)


def for_viewer(
    session: Session,
    ids: Sequence[int],
    user_id: int | None,
    *,
    mine: dict[int, float] | None = None,
) -> list[str]:
    """The titles' documents in order, with the viewer's rating of each (looked up in
    one query unless `mine` is given)."""
    docs = documents(session, ids)
    if mine is None:
        mine = my_ratings(session, user_id, docs)
    return [with_viewer(docs[i], mine.get(i), None) for i in ids if i in docs]


def one(
    session: Session, content_id: int, *, your_rating: float | None, predicted: float | None
) -> str:
    doc = documents(session, [content_id]).get(content_id)
    if doc is None:
        raise NotFound(f"No content {content_id}.")
    return with_viewer(doc, your_rating, predicted)


def array(texts: Iterable[str]) -> str:
    return "[" + ",".join(texts) + "]"


def obj(**fields: Any) -> str:
    """A JSON object from already-encoded values (`Raw`) and plain ones."""
    parts = [
        f"{json.dumps(k)}:{v.text if isinstance(v, Raw) else json.dumps(v)}"
        for k, v in fields.items()
    ]
    return "{" + ",".join(parts) + "}"


class Raw:
    """JSON text to embed as is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def json_response(body: str, status: int = 200) -> Response:
    """A body built from ready documents, sent without a parse and a re-encode."""
    return Response(body, status=status, mimetype="application/json")


def parsed(texts: Iterable[str]) -> list[dict[str, Any]]:
    """For the pages' templates."""
    return [json.loads(t) for t in texts]
