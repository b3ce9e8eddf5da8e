"""Browsing and watching: the home page, a title's page and the player."""

from __future__ import annotations

import json

from flask import Blueprint, render_template

from db.services import content as catalogue
from db.services import ratings, viewing
from web.content.views import content_for
from web.discovery.recommendations import similar_ids
from web.discovery.titles import for_viewer, parsed
from web.discovery.views import home_rows
from web.media.presenters import video_for
from web.pages.query import page_number, required_id
from web.pages.viewer import current_viewer
from web.runtime import db_session

blp = Blueprint("catalogue_pages", __name__)
SIMILAR = 12
RATINGS_PAGE = 10


@blp.get("/")
def home() -> str:
    viewer = current_viewer()
    session = db_session()
    rows = [
        {"key": row.key, "title": row.title, "items": parsed(row.items)}
        for row in home_rows(session, viewer.id if viewer else None)
    ]
    return render_template(
        "home.html", title="Home", rows=rows, genres=catalogue.list_genres(session=session)
    )


@blp.get("/content")
def content() -> str:
    content_id = required_id()
    viewer = current_viewer()
    session = db_session()
    item = json.loads(content_for(session, content_id, viewer.id if viewer else None))
    similar = parsed(for_viewer(session, similar_ids(session, content_id, SIMILAR), None))
    video = video_for(session, content_id)
    page = page_number()
    reviews, total = ratings.list_for_content(
        session=session, content_id=content_id, page=page, per_page=RATINGS_PAGE
    )
    return render_template(
        "content.html",
        title=item["title"],
        item=item,
        similar=similar,
        video=video,
        reviews=reviews,
        page=page,
        pages=max(1, -(-total // RATINGS_PAGE)),
    )


@blp.get("/video")
def video() -> str:
    content_id = required_id()
    viewer = current_viewer()
    session = db_session()
    item = json.loads(content_for(session, content_id, viewer.id if viewer else None))
    resume = (
        viewing.resume_position(session=session, user_id=viewer.id, content_id=content_id)
        if viewer
        else 0.0
    )
    return render_template(
        "video.html",
        title=item["title"],
        item=item,
        video=video_for(session, content_id),
        resume_s=resume,
    )
