"""GET /media/<key>: published video files, outside the API (players fetch them).

Locally the files are sent with Range support. On S3 a playlist is fetched and its
relative URIs rewritten (sub-playlists back to here, segments to signed S3 URLs);
every other file is a redirect to a signed URL.
"""

from __future__ import annotations

import posixpath
import re

from flask import Blueprint, Response, redirect, send_file
from werkzeug.wrappers import Response as BaseResponse

from db.errors import NotFound
from db.media_types import cache_control_for, content_type_for
from web.media.urls import PLAYLIST_SUFFIX, direct_url, served_url
from web.runtime import runtime

blp = Blueprint("media_files", __name__)

PUBLISHED_ROOT = "videos/"
URI_ATTRIBUTE = re.compile(r'URI="([^"]+)"')


def _published_key(key: str) -> str:
    clean = posixpath.normpath(key)
    if not clean.startswith(PUBLISHED_ROOT) or clean != key:
        raise NotFound("No such media file.")
    return clean


@blp.get("/media/<path:key>")
def serve(key: str) -> BaseResponse:
    key = _published_key(key)
    storage = runtime().storage
    local = storage.local_path(key)
    if local is not None:
        if not local.is_file():
            raise NotFound("No such media file.")
        response = send_file(local, mimetype=content_type_for(key), conditional=True)
        response.headers["Cache-Control"] = cache_control_for(key)
        return response
    if not key.endswith(PLAYLIST_SUFFIX):
        return redirect(direct_url(key), code=302)
    try:
        text = storage.get_bytes(key).decode("utf-8")
    except Exception as error:  # the object is absent (or the store unreachable)
        raise NotFound("No such media file.") from error
    body = rewrite_playlist(text, posixpath.dirname(key))
    return Response(
        body,
        mimetype=content_type_for(key),
        # Signed URLs inside expire: never cache the rewritten text for long.
        headers={"Cache-Control": "private, max-age=300"},
    )


def _absolute(base_dir: str, uri: str) -> str:
    if "://" in uri or uri.startswith("/"):
        return uri
    target = posixpath.normpath(posixpath.join(base_dir, uri))
    if not target.startswith(PUBLISHED_ROOT):
        return uri
    return served_url(target) if target.endswith(PLAYLIST_SUFFIX) else direct_url(target)


def rewrite_playlist(text: str, base_dir: str) -> str:
    lines = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            line = _absolute(base_dir, line.strip())
        elif "URI=" in line:
            line = URI_ATTRIBUTE.sub(lambda m: f'URI="{_absolute(base_dir, m.group(1))}"', line)
        lines.append(line)
    return "\n".join(lines) + "\n"
