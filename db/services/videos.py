"""A title's video: queueing transcodes and switching to a new published set.

The published set lives under a job-scoped prefix; `publish` switches the row to it
in one update, so a viewer sees the old set or the new one, never half of either.
Callers commit.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from db.errors import Conflict, UnsupportedMediaType
from db.media_sniff import HEAD_BYTES, looks_like_video
from db.media_types import content_type_for
from db.models import Content, Job, Video
from db.services import jobs
from db.services.content import get_content
from db.storage import FileToPut, Storage

TRANSCODE_JOB = "media.transcode"
ACTIVE_JOB_STATES = ("queued", "running")
SET_ID_BYTES = 8  # 64 random bits in every transcode's output prefix
# What a job's state means for the video that waits on it.
STATUS_BY_JOB = {"queued": "queued", "running": "processing", "failed": "failed", "dead": "failed"}


@dataclass(frozen=True)
class PublishedSet:
    prefix: str
    master_key: str
    poster_key: str
    thumbnail_keys: list[str]
    renditions: list[dict[str, Any]]
    width: int
    height: int
    duration_s: float


def find(*, session: Session, content_id: int) -> Video | None:
    return session.get(Video, content_id)


def get_or_create(*, session: Session, content_id: int) -> Video:
    video = session.get(Video, content_id)
    if video is None:
        get_content(session=session, content_id=content_id)  # 404 for an unknown title
        video = Video(content_id=content_id, status="none", thumbnail_keys=[], renditions=[])
        session.add(video)
        session.flush()
    return video


def output_prefix(*, content_id: int, job_id: int, set_id: str | None) -> str:
    """Where a transcode writes its set: scoped to the job (a rerun overwrites only its own
    attempt) and, with the job's random `set_id`, unguessable, so that the public bucket
    and the edge cache cannot hand out a set before it is published. Jobs queued before
    set ids existed have none."""
    return f"videos/{content_id}/j{job_id}" + (f"-{set_id}" if set_id else "")


def status_of(video: Video | None, job: Job | None) -> str:
    """none | uploading | queued | processing | ready | failed, as API.md lists them."""
    if video is None:
        return "none"
    return status_from(video.status, video.master_key, job.status if job else None)


def status_from(video_status: str | None, master_key: str | None, job_status: str | None) -> str:
    """status_of for plain column values (read models select columns, not objects)."""
    if video_status is None:
        return "none"
    if video_status == "uploading" or job_status is None:
        return video_status
    if job_status == "succeeded":
        return "ready" if master_key else "failed"
    return STATUS_BY_JOB[job_status]


def queue_transcode(
    *,
    session: Session,
    content_id: int,
    source_key: str | None = None,
    source_bytes: int | None = None,
) -> Job:
    """Queue a transcode of the title's source (a new one when `source_key` is given).

    Re-queueing a source whose transcode is still queued or running returns that job.
    """
    video = session.scalar(
        select(Video).where(Video.content_id == content_id).with_for_update()
    ) or get_or_create(session=session, content_id=content_id)
    if source_key is None:
        if video.source_key is None:
            raise Conflict(
                f"Content {content_id} has no uploaded video to transcode.",
                details={"content_id": "no source video"},
            )
        current = session.get(Job, video.job_id) if video.job_id else None
        if current is not None and current.status in ACTIVE_JOB_STATES:
            return current
    else:
        video.source_key, video.source_bytes = source_key, source_bytes
    job = jobs.enqueue(
        session=session,
        type=TRANSCODE_JOB,
        args={
            "content_id": content_id,
            "source_key": video.source_key,
            "set_id": secrets.token_hex(SET_ID_BYTES),
        },
        max_attempts=3,
    )
    video.job_id, video.status, video.error = job.id, "queued", None
    session.flush()
    return job


def add_local_source(*, session: Session, storage: Storage, content_id: int, path: Path) -> Job:
    """Store a file from this machine as the title's source and queue its transcode."""
    with path.open("rb") as source:
        if not looks_like_video(source.read(HEAD_BYTES)):
            raise UnsupportedMediaType(
                f"{path.name} is not a video file.", details={"file": "not a video"}
            )
    key = f"sources/{content_id}/{uuid.uuid4().hex}"
    storage.put_files([FileToPut(key=key, path=path, content_type=content_type_for(path.name))])
    return queue_transcode(
        session=session, content_id=content_id, source_key=key, source_bytes=path.stat().st_size
    )


def is_current(*, session: Session, content_id: int, job_id: int) -> bool:
    """False once a newer upload or re-transcode has superseded this job."""
    video = session.get(Video, content_id)
    return video is not None and video.job_id == job_id


def serving(*, session: Session, content_id: int, prefix: str) -> Video | None:
    """The title's video when `prefix` is the set it serves."""
    video = session.get(Video, content_id)
    return video if video is not None and video.output_prefix == prefix else None


def record_failure(*, session: Session, content_id: int, job_id: int, reason: str) -> None:
    video = session.get(Video, content_id)
    if video is not None and video.job_id == job_id:
        video.error = reason


def publish(
    *, session: Session, content_id: int, job_id: int, published: PublishedSet
) -> str | None:
    """Switch the title to a new set. Returns the prefix that is no longer served (the
    old set, or this job's own outputs when a newer job superseded it), for deletion.

    The switch is conditional on the row still naming this job, so a newer upload that
    commits meanwhile wins without row locks (SQLite has none)."""
    video = session.scalar(select(Video).where(Video.content_id == content_id).with_for_update())
    if video is None or video.job_id != job_id:
        return published.prefix
    old = video.output_prefix
    values: dict[str, Any] = {
        "output_prefix": published.prefix,
        "master_key": published.master_key,
        "poster_key": published.poster_key,
        "thumbnail_keys": list(published.thumbnail_keys),
        "renditions": list(published.renditions),
        "width": published.width,
        "height": published.height,
        "status": "ready",
        "error": None,
    }
    switched = session.execute(
        update(Video)
        .where(Video.content_id == content_id, Video.job_id == job_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not isinstance(switched, CursorResult) or switched.rowcount != 1:
        session.expire(video)
        return published.prefix
    for name, value in values.items():
        set_committed_value(video, name, value)
    content = session.get(Content, content_id)
    if content is not None:
        content.duration_s = round(published.duration_s, 3)
    session.flush()
    return old if old != published.prefix else None


def titles_without_video(*, session: Session, source: str, limit: int) -> list[int]:
    """The first titles of an import (e.g. the demo) that have no video yet."""
    rows = session.scalars(
        select(Content.id)
        .outerjoin(Video, Video.content_id == Content.id)
        .where(Content.source == source, Video.content_id.is_(None))
        .order_by(Content.id)
        .limit(limit)
    )
    return list(rows)


def pending(*, session: Session) -> list[int]:
    """Titles with a source but no published set and no transcode on its way."""
    active = select(Job.id).where(Job.id == Video.job_id, Job.status.in_(ACTIVE_JOB_STATES))
    rows = session.scalars(
        select(Video.content_id)
        .where(
            Video.source_key.is_not(None),
            Video.master_key.is_(None),
            or_(Video.job_id.is_(None), ~active.exists()),
        )
        .order_by(Video.content_id)
    )
    return list(rows)
