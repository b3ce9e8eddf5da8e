"""Where a client fetches a stored media file: a CDN, a signed S3 URL, or this web."""

from __future__ import annotations

from flask import url_for

from web.runtime import runtime

PLAYLIST_SUFFIX = ".m3u8"


def served_url(key: str) -> str:
    """A URL of this web (/media/...), which serves local files or fronts S3; at the
    configured public origin, never the Host a client sent."""
    return runtime().settings.resolved_public_url + url_for("media_files.serve", key=key)


def direct_url(key: str) -> str:
    """The most direct URL for a file a browser fetches as is (poster, segment)."""
    settings = runtime().settings
    if settings.media_base_url:
        return f"{settings.media_base_url}/{key}"
    signed = runtime().storage.signed_url(key, expires_s=settings.signed_url_ttl_s)
    return signed or served_url(key)


def playlist_url(key: str) -> str:
    """Playlists name their neighbours by relative paths; those resolve on a CDN or on
    this web, but not against a signed S3 URL, so S3 playlists go through the web."""
    settings = runtime().settings
    if settings.media_base_url:
        return f"{settings.media_base_url}/{key}"
    return served_url(key)
