"""Browsing and watching: the home page, a title's page and the player."""

from __future__ import annotations

from flask import Blueprint, render_template

from db.services import content as catalogue
from db.services import viewing
from web.content.views import content_for
from web.discovery.recommendations import similar_titles
from web.discovery.views import documents, home_rows
from web.media.presenters import video_for
from web.pages.query import required_id
from web.pages.viewer import current_viewer
from web.runtime import db_session

blp = Blueprint("catalogue_pages", __name__)
SIMILAR = 12


@blp.get("/")
def home() -> str:
    viewer = current_viewer()
    session = db_session()
    rows = home_rows(session, viewer.id if viewer else None)
    return render_template(
        "home.html", title="Home", rows=rows, genres=catalogue.list_genres(session=session)
    )


@blp.get("/content")
def content() -> str:
    content_id = required_id()
    viewer = current_viewer()
    session = db_session()
    item = content_for(session, content_id, viewer.id if viewer else None)
    similar = documents(session, similar_titles(session, content_id, SIMILAR), None)
    video = video_for(session, content_id)
    return render_template(
        "content.html", title=item["title"], item=item, similar=similar, video=video
    )


@blp.get("/video")
def video() -> str:
    content_id = required_id()
    viewer = current_viewer()
    session = db_session()
    item = content_for(session, content_id, viewer.id if viewer else None)
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
