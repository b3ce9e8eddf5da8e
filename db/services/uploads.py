"""Resumable uploads: chunks arrive in order and go straight into object storage.

Each chunk is one part (an S3 multipart part, or a write at its offset into a local
partial file). Each step moves the row with one conditional UPDATE before it touches
storage, so two clients sending the same range (or completing twice) cannot both
advance it: the row lock of `lock=True` holds on PostgreSQL only, SQLite ignores it.
Callers commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from db.errors import Conflict, InvalidInput, NotFound, TooLarge, UnsupportedMediaType
from db.media_sniff import HEAD_BYTES, looks_like_video
from db.models import Job, Upload
from db.models.base import utcnow
from db.services import videos
from db.services.content import editable_content
from db.storage import Storage


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    chunk_bytes: int
    ttl: timedelta


def _clean_filename(filename: str) -> str:
    # Keep the base name only: a client's path means nothing here.
    name = PurePosixPath(PureWindowsPath(filename).name).name.strip()
    if not name or len(name) > 255:
        raise InvalidInput("The file name is not valid.", details={"filename": "1-255 characters"})
    return name


def create(
    *,
    session: Session,
    storage: Storage,
    content_id: int,
    user_id: int,
    is_admin: bool,
    filename: str,
    size_bytes: int,
    content_type: str,
    limits: UploadLimits,
) -> Upload:
    editable_content(session=session, content_id=content_id, user_id=user_id, is_admin=is_admin)
    if size_bytes > limits.max_bytes:
        raise TooLarge(
            f"The file is {size_bytes} bytes; the largest accepted is {limits.max_bytes}.",
            details={"size_bytes": f"at most {limits.max_bytes}"},
        )
    if not content_type.lower().startswith("video/"):
        raise UnsupportedMediaType(
            f"{content_type!r} is not a video type.", details={"content_type": "must be video/*"}
        )
    name = _clean_filename(filename)
    for stale in session.scalars(
        select(Upload)
        .where(Upload.content_id == content_id, Upload.status == "open")
        .with_for_update()
    ):
        _close(storage, stale, "aborted")  # a new upload replaces an unfinished one
    upload_id = uuid.uuid4().hex
    key = f"sources/{content_id}/{upload_id}"
    upload = Upload(
        id=upload_id,
        content_id=content_id,
        user_id=user_id,
        filename=name,
        content_type=content_type,
        size_bytes=size_bytes,
        received=0,
        chunk_size=limits.chunk_bytes,
        status="open",
        storage_key=key,
        multipart_id=storage.start_parts(key),
        parts=[],
        expires_at=utcnow() + limits.ttl,
    )
    session.add(upload)
    videos.get_or_create(session=session, content_id=content_id).status = "uploading"
    session.flush()
    return upload


def get(
    *, session: Session, upload_id: str, user_id: int, is_admin: bool, lock: bool = False
) -> Upload:
    stmt = select(Upload).where(Upload.id == upload_id)
    upload = session.scalar(stmt.with_for_update() if lock else stmt)
    # Someone else's upload is as absent as an unknown one.
    if upload is None or (not is_admin and upload.user_id != user_id):
        raise NotFound(f"No upload {upload_id}.")
    return upload


def _require_open(upload: Upload, now: datetime) -> None:
    if upload.status == "open" and upload.expires_at <= now:
        raise Conflict("The upload has expired; start a new one.", details={"status": "expired"})
    if upload.status != "open":
        raise Conflict(f"The upload is {upload.status}.", details={"status": upload.status})


def _out_of_order(upload: Upload, message: str) -> Conflict:
    return Conflict(message, details={"received": str(upload.received)})


def write_chunk(
    *,
    session: Session,
    storage: Storage,
    upload: Upload,
    start: int,
    end: int,
    total: int,
    body: BinaryIO,
) -> Upload:
    """Store bytes start..end (inclusive) of `total`; `body` holds exactly those bytes
    and is seekable. `upload` must have been loaded with `lock=True`."""
    _require_open(upload, utcnow())
    if total != upload.size_bytes:
        raise InvalidInput(
            f"The upload was declared as {upload.size_bytes} bytes, not {total}.",
            details={"content_range": f"total must be {upload.size_bytes}"},
        )
    if start != upload.received:
        raise _out_of_order(upload, f"Expected the chunk at byte {upload.received}.")
    length = end - start + 1
    last = end == total - 1
    if length > upload.chunk_size or (not last and length != upload.chunk_size):
        raise InvalidInput(
            f"Every chunk but the last must be exactly {upload.chunk_size} bytes.",
            details={"content_range": f"chunks of {upload.chunk_size} bytes"},
        )
    if start == 0:
        head = body.read(HEAD_BYTES)
        body.seek(0)
        if not looks_like_video(head):
            raise UnsupportedMediaType(
                "The file is not a video container we accept "
                "(MP4, MOV, MKV, WebM, AVI, MPEG, FLV, Ogg).",
                details={"file": "not a video"},
            )
    if not _advance(
        session, upload, expect={"status": "open", "received": start}, values={"received": end + 1}
    ):
        raise _out_of_order(upload, f"Expected the chunk at byte {upload.received}.")
    number = start // upload.chunk_size + 1
    etag = storage.write_part(
        upload.storage_key,
        upload.multipart_id,
        number=number,
        offset=start,
        body=body,
        length=length,
    )
    # Reassign (not append) so the JSON column sees the change.
    upload.parts = [p for p in upload.parts if p["n"] != number] + [{"n": number, "etag": etag}]
    session.flush()
    return upload


def complete(*, session: Session, storage: Storage, upload: Upload) -> Job:
    """Assemble the source and queue its transcode; completing twice returns the job.
    `upload` must have been loaded with `lock=True`."""
    if upload.status == "completed" and (job := _transcode_of(session, upload)) is not None:
        return job
    _require_open(upload, utcnow())
    if upload.received != upload.size_bytes:
        raise _out_of_order(
            upload, f"Only {upload.received} of {upload.size_bytes} bytes have arrived."
        )
    if not _advance(
        session,
        upload,
        expect={"status": "open", "received": upload.size_bytes},
        values={"status": "completed", "completed_at": utcnow()},
    ):
        # Another request completed it meanwhile: answer as it did.
        if (job := _transcode_of(session, upload)) is not None:
            return job
        raise Conflict(f"The upload is {upload.status}.", details={"status": upload.status})
    parts = sorted((p["n"], p["etag"]) for p in upload.parts)
    storage.finish_parts(upload.storage_key, upload.multipart_id, parts)
    return videos.queue_transcode(
        session=session,
        content_id=upload.content_id,
        source_key=upload.storage_key,
        source_bytes=upload.size_bytes,
    )


def _transcode_of(session: Session, upload: Upload) -> Job | None:
    video = videos.find(session=session, content_id=upload.content_id)
    job = session.get(Job, video.job_id) if video and video.job_id else None
    return job if job is not None and job.args.get("source_key") == upload.storage_key else None


def _advance(
    session: Session, upload: Upload, *, expect: dict[str, Any], values: dict[str, Any]
) -> bool:
    """Move the row from the state `expect` to `values` unless someone moved it first;
    either way `upload` then shows the row as it is."""
    moved = cast(
        CursorResult[Any],
        session.execute(
            update(Upload)
            .where(Upload.id == upload.id, *(getattr(Upload, k) == v for k, v in expect.items()))
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    session.refresh(upload)
    return moved.rowcount == 1


def _close(storage: Storage, upload: Upload, status: str) -> None:
    storage.abort_parts(upload.storage_key, upload.multipart_id)
    upload.status = status


def expire(*, session: Session, storage: Storage, now: datetime) -> int:
    """Close uploads past their deadline and free their stored parts."""
    stale = session.scalars(
        select(Upload)
        .where(Upload.status == "open", Upload.expires_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    closed = 0
    for upload in stale:
        # Another sweep (or the owner's new upload) may have closed it meanwhile.
        if not _advance(session, upload, expect={"status": "open"}, values={"status": "expired"}):
            continue
        storage.abort_parts(upload.storage_key, upload.multipart_id)
        closed += 1
        video = videos.find(session=session, content_id=upload.content_id)
        if video is not None and video.status == "uploading":
            video.status = "ready" if video.master_key else ("queued" if video.job_id else "none")
    session.flush()
    return closed
