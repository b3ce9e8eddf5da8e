"""Media URLs for this process's settings and store (the rules live in db/media_urls.py,
which title documents built in workers share)."""

from __future__ import annotations

from db.media_urls import MediaUrls
from web.runtime import runtime

PLAYLIST_SUFFIX = ".m3u8"


def media_urls() -> MediaUrls:
    rt = runtime()
    return MediaUrls(rt.settings, rt.storage)


def served_url(key: str) -> str:
    return media_urls().served(key)


def direct_url(key: str) -> str:
    return media_urls().direct(key)


def playlist_url(key: str) -> str:
    return media_urls().playlist(key)
