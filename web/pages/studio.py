"""Creators add a title and upload its video (static/js/upload.js does the transfer)."""

from __future__ import annotations

from flask import Blueprint, render_template

from db.services import content as catalogue
from web.pages.viewer import signed_in
from web.runtime import db_session, runtime

blp = Blueprint("studio_pages", __name__)


@blp.get("/upload")
@signed_in("creator")
def upload() -> str:
    settings = runtime().settings
    return render_template(
        "upload.html",
        title="Upload a video",
        genres=catalogue.list_genres(session=db_session()),
        max_upload_bytes=settings.max_upload_bytes,
    )
