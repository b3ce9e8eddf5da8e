"""Catalogue and ratings."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.read_models import viewer
from db.services import content as catalogue
from db.services import ratings, viewing
from web.auth.roles import current_user_id, has_role, optional_user_id, require_roles
from web.blueprint import Blueprint
from web.content.schemas import (
    ContentIn,
    ContentOut,
    ContentPatch,
    ContentQuery,
    ProgressIn,
    PublicRatingOut,
    RatingIn,
    RatingOut,
)
from web.discovery.titles import Raw, array, for_viewer, json_response, obj, one
from web.pagination import PageArgs, page_document, page_schema
from web.runtime import db_reads, db_session, runtime

blp = Blueprint("catalogue", __name__, description="Catalogue and ratings")


@blp.get("/genres")
@blp.response(200)
def list_genres() -> list[str]:
    return catalogue.list_genres(session=db_session())


@blp.get("/content")
@blp.arguments(ContentQuery(), location="query")
@blp.response(200, page_schema(ContentOut, "ContentPage"))
def list_content(args: dict[str, Any]) -> Any:
    session = db_reads()
    ids, total = catalogue.list_content(session=session, **args)
    items = for_viewer(session, ids, optional_user_id())
    page = page_document([], page=args["page"], per_page=args["per_page"], total=total)
    return json_response(obj(**{**page, "items": Raw(array(items))}))


@blp.post("/content")
@blp.arguments(ContentIn())
@blp.response(201, ContentOut)
@require_roles("creator")
def create_content(body: dict[str, Any]) -> Any:
    session = db_session()
    item = catalogue.create_content(session=session, owner_id=current_user_id(), **body)
    session.commit()
    return json_response(one(session, item.id, your_rating=None, predicted=None), 201)


@blp.get("/content/<id:content_id>")
@blp.response(200, ContentOut)
def get_content(content_id: int) -> Any:
    return json_response(content_for(db_reads(), content_id, optional_user_id()))


def content_for(session: Session, content_id: int, user_id: int | None) -> str:
    """The Content document as `user_id` (None: anonymous) sees it, as JSON text."""
    if user_id is None:
        return one(session, content_id, your_rating=None, predicted=None)
    mine, predicted = viewer.title_overlay(session, user_id, content_id)
    return one(session, content_id, your_rating=mine, predicted=predicted)


@blp.patch("/content/<id:content_id>")
@blp.arguments(ContentPatch(), required=False)
@blp.response(200, ContentOut)
@require_roles()
def patch_content(body: dict[str, Any], content_id: int) -> Any:
    session = db_session()
    item = catalogue.update_content(
        session=session,
        content_id=content_id,
        user_id=current_user_id(),
        is_admin=has_role("admin"),
        changes=body,
    )
    session.commit()
    return json_response(one(session, item.id, your_rating=None, predicted=None))


@blp.delete("/content/<id:content_id>")
@blp.response(204)
@require_roles()
def delete_content(content_id: int) -> None:
    session = db_session()
    catalogue.delete_content(
        session=session,
        content_id=content_id,
        user_id=current_user_id(),
        is_admin=has_role("admin"),
    )
    session.commit()


@blp.put("/content/<id:content_id>/rating")
@blp.arguments(RatingIn())
@blp.response(200, RatingOut)
@require_roles()
def put_rating(body: dict[str, Any], content_id: int) -> dict[str, Any]:
    session = db_session()
    user_id = current_user_id()
    saved = ratings.rate(
        session=session, user_id=user_id, content_id=content_id, score=body["score"]
    )
    session.commit()  # the job is published after this commit (db/outbox.py)
    runtime().recent_ratings.add(user_id, content_id)  # the cached list hides it at once
    return {"content_id": saved.content_id, "score": saved.score, "rated_at": saved.rated_at}


@blp.delete("/content/<id:content_id>/rating")
@blp.response(204)
@require_roles()
def delete_rating(content_id: int) -> None:
    session = db_session()
    user_id = current_user_id()
    ratings.unrate(session=session, user_id=user_id, content_id=content_id)
    session.commit()
    runtime().recent_ratings.remove(user_id, content_id)


@blp.get("/content/<id:content_id>/ratings")
@blp.arguments(PageArgs(), location="query")
@blp.response(200, page_schema(PublicRatingOut, "PublicRatingPage"))
def list_ratings(args: dict[str, Any], content_id: int) -> dict[str, Any]:
    """Who rated the title and how, newest first (display names only)."""
    items, total = ratings.list_for_content(session=db_session(), content_id=content_id, **args)
    return page_document(items, page=args["page"], per_page=args["per_page"], total=total)


@blp.post("/content/<id:content_id>/progress")
@blp.arguments(ProgressIn())
@blp.response(204)
@require_roles()
def post_progress(body: dict[str, Any], content_id: int) -> None:
    session = db_session()
    viewing.record_progress(
        session=session, user_id=current_user_id(), content_id=content_id, **body
    )
    session.commit()
