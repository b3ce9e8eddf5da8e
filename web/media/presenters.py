"""Video rows -> the video document of API.md."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.models import Job, Video
from db.services import videos
from db.services.content import get_content
from db.services.videos import status_of
from web.media.urls import direct_url, playlist_url

RENDITION_FIELDS = ("name", "width", "height", "bitrate")
FAILED_WITHOUT_REASON = "Something went wrong on our side."


def video_document(video: Video | None, job: Job | None) -> dict[str, Any]:
    status = status_of(video, job)
    document: dict[str, Any] = {
        "status": status,
        "progress": 1.0 if status == "ready" else (job.progress if job is not None else 0.0),
        "error": None,
        "renditions": [],
        "master_url": None,
        "poster_url": None,
        "thumbnail_urls": [],
        "width": None,
        "height": None,
        "job_id": job.id if job is not None else None,
    }
    if status == "failed":
        # The video's reason is written for people; the job's error is for operators
        # (paths, tool output, tracebacks' last line) and never shown here.
        document["error"] = (video.error if video else None) or FAILED_WITHOUT_REASON
    if video is None or video.master_key is None:
        return document
    # The last published set keeps playing while a new upload or transcode runs.
    document.update(
        renditions=[
            {k: r[k] for k in ("name", "width", "height", "bitrate")} for r in video.renditions
        ],
        master_url=playlist_url(video.master_key),
        poster_url=direct_url(video.poster_key) if video.poster_key else None,
        thumbnail_urls=[direct_url(k) for k in video.thumbnail_keys],
        width=video.width,
        height=video.height,
    )
    return document


def video_for(session: Session, content_id: int) -> dict[str, Any]:
    """The video document of a title (404 for an unknown title)."""
    get_content(session=session, content_id=content_id)
    video = videos.find(session=session, content_id=content_id)
    job = session.get(Job, video.job_id) if video is not None and video.job_id else None
    return video_document(video, job)
