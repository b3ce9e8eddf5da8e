"""HTTP headers for the files of a ladder, for whoever uploads them."""

from __future__ import annotations

from pathlib import PurePosixPath

from workers.media.hls import MASTER

_TYPES = {
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


def content_type_for(path: str) -> str:
    return _TYPES.get(PurePosixPath(path).suffix.lower(), "application/octet-stream")


def cache_control_for(path: str) -> str:
    """Everything a job writes lives under a job-unique prefix and never changes --
    except the master playlist, which is what a video's page links to and may be
    replaced by a later transcode; unknown files are not promised forever either."""
    name = PurePosixPath(path)
    if name.name == MASTER or name.suffix.lower() not in _TYPES:
        return SHORT
    return IMMUTABLE
