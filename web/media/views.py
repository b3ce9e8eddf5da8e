"""Video: resumable uploads, a title's video state, transcodes for admins."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from typing import Any, BinaryIO, cast

from flask import request
from flask_limiter.util import get_remote_address
from werkzeug.http import parse_content_range_header

from db.errors import InvalidInput
from db.models import Job, Upload
from db.services import uploads, videos
from web.auth.roles import current_user_id, has_role, optional_user_id, require_roles
from web.blueprint import Blueprint
from web.jobs.schemas import JobEnvelope
from web.media.presenters import video_for
from web.media.schemas import Received, TranscodeIn, UploadCreated, UploadIn, UploadState, VideoOut
from web.rate_limits import limit_from_settings, limiter
from web.runtime import db_session, runtime

blp = Blueprint("video", __name__, description="Video: uploads, state, transcodes")

# A chunk is spooled to disk beyond this, so a large upload never sits in memory.
SPOOL_IN_MEMORY = 1024 * 1024
COPY_BLOCK = 64 * 1024


def _user_key() -> str:
    """Uploads count per account; a bad token is refused later by require_roles."""
    try:
        user_id = optional_user_id()
    except Exception:
        user_id = None
    return f"user:{user_id}" if user_id is not None else f"ip:{get_remote_address()}"


@blp.before_request
def _chunk_sized_bodies() -> None:
    # Set before anything reads the body (token checks may look at a form): chunks are
    # bigger than the app-wide limit meant for JSON.
    if request.endpoint == f"{blp.name}.put_chunk":
        request.max_content_length = runtime().settings.upload_chunk_bytes


def _limits() -> uploads.UploadLimits:
    settings = runtime().settings
    return uploads.UploadLimits(
        max_bytes=settings.max_upload_bytes,
        chunk_bytes=settings.upload_chunk_bytes,
        ttl=timedelta(seconds=settings.upload_ttl_s),
    )


def _state(upload: Upload) -> dict[str, Any]:
    return {
        "upload_id": upload.id,
        "received": upload.received,
        "size_bytes": upload.size_bytes,
        "status": upload.status,
        "chunk_size": upload.chunk_size,
        "expires_at": upload.expires_at,
    }


@blp.post("/content/<id:content_id>/uploads")
@limiter.limit(limit_from_settings("rate_limit_upload_user"), key_func=_user_key)
@blp.arguments(UploadIn())
@blp.response(201, UploadCreated)
@blp.alt_response(413, description="Over the size limit")
@blp.alt_response(415, description="Not a video type")
@require_roles("creator")
def create_upload(body: dict[str, Any], content_id: int) -> dict[str, Any]:
    session = db_session()
    upload = uploads.create(
        session=session,
        storage=runtime().storage,
        content_id=content_id,
        user_id=current_user_id(),
        is_admin=has_role("admin"),
        limits=_limits(),
        **body,
    )
    session.commit()
    return {
        "upload_id": upload.id,
        "chunk_size": upload.chunk_size,
        "expires_at": upload.expires_at,
    }


def _content_range() -> tuple[int, int, int]:
    parsed = parse_content_range_header(request.headers.get("Content-Range"))
    if parsed is None or parsed.units != "bytes" or parsed.start is None or not parsed.length:
        raise InvalidInput(
            "The Content-Range header must be 'bytes first-last/total'.",
            details={"content_range": "bytes first-last/total"},
        )
    assert parsed.stop is not None
    return parsed.start, parsed.stop - 1, parsed.length


def _spool_body(length: int) -> BinaryIO:
    """The request body, exactly `length` bytes, in a seekable spool (disk past 1 MiB)."""
    declared = request.content_length
    if declared is not None and declared != length:
        raise _length_mismatch(declared, length)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - returned
    stream, copied = request.stream, 0
    while copied < length and (block := stream.read(min(COPY_BLOCK, length - copied))):
        spool.write(block)
        copied += len(block)
    if copied != length:
        spool.close()
        raise _length_mismatch(copied, length)
    spool.seek(0)
    return cast(BinaryIO, spool)


def _length_mismatch(actual: int, expected: int) -> InvalidInput:
    return InvalidInput(
        f"The body has {actual} bytes; Content-Range says {expected}.",
        details={"content_range": "must match the body's length"},
    )


@blp.put("/uploads/<upload_id:upload_id>")
@blp.response(200, Received)
@blp.alt_response(409, description="Out of order or overlapping: details.received is the offset")
@require_roles("creator")
def put_chunk(upload_id: str) -> dict[str, int]:
    session = db_session()
    start, end, total = _content_range()
    user_id, is_admin = current_user_id(), has_role("admin")
    # Check cheaply before reading the body, then again under the row lock.
    uploads.get(session=session, upload_id=upload_id, user_id=user_id, is_admin=is_admin)
    session.rollback()  # no transaction held while a slow client sends its bytes
    with _spool_body(end - start + 1) as body:
        upload = uploads.get(
            session=session, upload_id=upload_id, user_id=user_id, is_admin=is_admin, lock=True
        )
        uploads.write_chunk(
            session=session,
            storage=runtime().storage,
            upload=upload,
            start=start,
            end=end,
            total=total,
            body=body,
        )
        received = upload.received
        session.commit()
    return {"received": received}


@blp.get("/uploads/<upload_id:upload_id>")
@blp.response(200, UploadState)
@require_roles("creator")
def get_upload(upload_id: str) -> dict[str, Any]:
    upload = uploads.get(
        session=db_session(),
        upload_id=upload_id,
        user_id=current_user_id(),
        is_admin=has_role("admin"),
    )
    return _state(upload)


@blp.post("/uploads/<upload_id:upload_id>/complete")
@blp.response(202, JobEnvelope)
@blp.alt_response(409, description="Bytes are missing: details.received is the offset")
@require_roles("creator")
def complete_upload(upload_id: str) -> dict[str, Job]:
    session = db_session()
    upload = uploads.get(
        session=session,
        upload_id=upload_id,
        user_id=current_user_id(),
        is_admin=has_role("admin"),
        lock=True,
    )
    job = uploads.complete(session=session, storage=runtime().storage, upload=upload)
    session.commit()  # the transcode job is published after this commit
    return {"job": job}


@blp.get("/content/<id:content_id>/video")
@blp.response(200, VideoOut)
def get_video(content_id: int) -> dict[str, Any]:
    return video_for(db_session(), content_id)


@blp.post("/admin/transcodes")
@blp.arguments(TranscodeIn())
@blp.response(202, JobEnvelope)
@blp.alt_response(409, description="The title has no uploaded video")
@require_roles("ops")
def post_transcode(body: dict[str, Any]) -> dict[str, Job]:
    session = db_session()
    job = videos.queue_transcode(session=session, content_id=body["content_id"])
    session.commit()
    return {"job": job}
