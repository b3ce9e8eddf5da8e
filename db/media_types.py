"""Content-Type and Cache-Control for the files of a published HLS set."""

from __future__ import annotations

from pathlib import PurePosixPath

TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/mp4",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".vtt": "text/vtt",
}
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=60"
MASTER_NAME = "master.m3u8"


def content_type_for(key: str) -> str:
    return TYPES.get(PurePosixPath(key).suffix.lower(), "application/octet-stream")


def cache_control_for(key: str) -> str:
    # Every file lives under a job-scoped prefix that is never rewritten, so all of it
    # may be cached for good; the master gets a short life so that a player asking by
    # a stable URL after a re-transcode is not stuck on a deleted set.
    path = PurePosixPath(key)
    if path.name == MASTER_NAME or path.suffix.lower() not in TYPES:
        return SHORT
    return IMMUTABLE
