"""GET /media/<key>: the published video files of existing titles, outside the API
(players fetch them).

Only a key of the set a title currently publishes (Video.output_prefix) is served: a
transcode's output at its predictable job-scoped URL stays private until it is switched
to, a replaced set goes dark at the switch, and a deleted title's files answer 404 from
its delete's commit on, before the purge job has removed them. Sources never are.

Locally the files are sent with Range support. On S3 a playlist is fetched and its
relative URIs rewritten (sub-playlists back to here, segments to signed S3 URLs);
every other file is a redirect to a signed URL.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from flask import Blueprint, Response, redirect, send_file
from werkzeug.wrappers import Response as BaseResponse

from db.errors import NotFound
from db.media_types import SHORT, cache_control_for, content_type_for
from db.services import videos
from web.converters import MAX_ID
from web.media.urls import PLAYLIST_SUFFIX, direct_url, served_url
from web.runtime import db_session, runtime

blp = Blueprint("media_files", __name__)

# What a transcode writes (videos.output_prefix): videos/<title>/j<job>[-<set id>]/<name>...,
# names of letters, digits, '_', '-' and inner dots. Anything else (NUL, '..', '\',
# non-ASCII, a key longer than the database stores) is no file of ours: checked before
# the key reaches a path, an S3 request or a query.
NAME = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}"
PUBLISHED_KEY = re.compile(
    rf"(?P<prefix>videos/(?P<content_id>[1-9][0-9]{{0,18}})"
    rf"/j[1-9][0-9]{{0,18}}(?:-[0-9a-f]{{{2 * videos.SET_ID_BYTES}}})?)"
    rf"/(?:{NAME}/){{0,3}}{NAME}",
    re.ASCII,
)
MAX_KEY_LENGTH = 512  # the key columns of db/models/media.py
URI_ATTRIBUTE = re.compile(r'URI="([^"]+)"')


@dataclass(frozen=True)
class MediaKey:
    key: str
    prefix: str  # the job-scoped set it belongs to
    content_id: int


def parse_key(key: str) -> MediaKey | None:
    """The key's title and set, if it has the shape of a published file."""
    found = PUBLISHED_KEY.fullmatch(key) if len(key) <= MAX_KEY_LENGTH else None
    if found is None or int(found["content_id"]) > MAX_ID:
        return None
    return MediaKey(key, found["prefix"], int(found["content_id"]))


def _published(key: str) -> MediaKey:
    """The key, if it lies in the set its title publishes now; else 404."""
    parsed = parse_key(key)
    if parsed is not None:
        video = videos.find(session=db_session(), content_id=parsed.content_id)
        if video is not None and video.output_prefix == parsed.prefix:
            return parsed
    raise NotFound("No such media file.")


@blp.get("/media/<path:key>")
def serve(key: str) -> BaseResponse:
    media = _published(key)
    storage = runtime().storage
    local = storage.local_path(media.key)
    is_playlist = media.key.endswith(PLAYLIST_SUFFIX)
    if local is not None:
        if not local.is_file():
            raise NotFound("No such media file.")
        response = send_file(local, mimetype=content_type_for(media.key), conditional=True)
        # Playlists are the gate to a set: kept briefly, so a delete takes effect soon
        # in any cache between here and the player (segments are immutable).
        response.headers["Cache-Control"] = SHORT if is_playlist else cache_control_for(media.key)
        return response
    if not is_playlist:
        return redirect(direct_url(media.key), code=302)
    try:
        text = storage.get_bytes(media.key).decode("utf-8")
    except Exception as error:  # the object is absent (or the store unreachable)
        raise NotFound("No such media file.") from error
    body = rewrite_playlist(text, posixpath.dirname(media.key), media.prefix)
    return Response(
        body,
        mimetype=content_type_for(media.key),
        # Signed URLs inside expire: never cache the rewritten text for long.
        headers={"Cache-Control": "private, max-age=300"},
    )


def _absolute(base_dir: str, uri: str, prefix: str) -> str:
    """A playlist's relative URI made absolute, if it names a file of the same set;
    anything else is left as written (the player's request for it is refused here)."""
    if "://" in uri or uri.startswith("/"):
        return uri
    target = posixpath.normpath(posixpath.join(base_dir, uri))
    parsed = parse_key(target)
    if parsed is None or parsed.prefix != prefix:
        return uri
    return served_url(target) if target.endswith(PLAYLIST_SUFFIX) else direct_url(target)


def rewrite_playlist(text: str, base_dir: str, prefix: str) -> str:
    lines = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            line = _absolute(base_dir, line.strip(), prefix)
        elif "URI=" in line:
            line = URI_ATTRIBUTE.sub(
                lambda m: f'URI="{_absolute(base_dir, m.group(1), prefix)}"', line
            )
        lines.append(line)
    return "\n".join(lines) + "\n"
