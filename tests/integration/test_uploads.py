"""Resumable uploads into S3 (moto over HTTP): chunks in order, resume, complete, expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Job, Upload, User, Video
from db.models.base import utcnow
from db.services import uploads
from db.settings import Settings
from db.storage import make_storage
from tests.auth import login
from tests.factories import make_content, make_user, mp4_bytes

CHUNK = 5 * 1024 * 1024  # S3's smallest part
# An MP4's first box, then noise: enough for the type check, no transcode here.


def creator_with_title(
    client: FlaskClient, db_session: Session
) -> tuple[User, int, dict[str, str]]:
    creator = make_user(db_session, roles=("creator",))
    item = make_content(db_session, owner=creator)
    db_session.commit()
    return creator, item.id, login(client, creator.email)


def start(
    client: FlaskClient, content_id: int, headers: dict[str, str], size: int, **extra: Any
) -> Any:
    body = {"filename": "C:\\clips\\holiday.mp4", "size_bytes": size, "content_type": "video/mp4"}
    return client.post(
        f"/api/v1/content/{content_id}/uploads", json={**body, **extra}, headers=headers
    )


def put(
    client: FlaskClient,
    upload_id: str,
    data: bytes,
    first: int,
    total: int,
    headers: dict[str, str],
) -> Any:
    last = first + len(data) - 1
    return client.put(
        f"/api/v1/uploads/{upload_id}",
        data=data,
        headers={**headers, "Content-Range": f"bytes {first}-{last}/{total}"},
    )


def test_an_interrupted_upload_resumes_and_lands_whole_in_s3(
    make_app: Any, db_session: Session, settings: Settings
) -> None:
    client = make_app(upload_chunk_bytes=CHUNK).test_client()
    _, content_id, headers = creator_with_title(client, db_session)
    data = mp4_bytes(2 * CHUNK + 12345)
    created = start(client, content_id, headers, len(data))
    assert created.status_code == 201, created.json
    upload_id, chunk = created.json["upload_id"], created.json["chunk_size"]
    assert chunk == CHUNK

    assert put(client, upload_id, data[:chunk], 0, len(data), headers).json == {"received": chunk}
    # The connection drops; the client sends the wrong piece, then asks where to go on.
    skipped = put(client, upload_id, data[2 * chunk :], 2 * chunk, len(data), headers)
    assert skipped.status_code == 409
    assert skipped.json["error"]["details"] == {"received": str(chunk)}
    state = client.get(f"/api/v1/uploads/{upload_id}", headers=headers).json
    assert (state["received"], state["status"]) == (chunk, "open")
    again = put(client, upload_id, data[:chunk], 0, len(data), headers)  # an overlapping resend
    assert again.status_code == 409

    offset = state["received"]
    while offset < len(data):
        sent = put(client, upload_id, data[offset : offset + chunk], offset, len(data), headers)
        assert sent.status_code == 200, sent.json
        offset = sent.json["received"]
    video = client.get(f"/api/v1/content/{content_id}/video").json
    assert video["status"] == "uploading"

    done = client.post(f"/api/v1/uploads/{upload_id}/complete", headers=headers)
    assert done.status_code == 202, done.json
    job = done.json["job"]
    assert (job["type"], job["status"], job["args"]["content_id"]) == (
        "media.transcode",
        "queued",
        content_id,
    )
    stored = make_storage(settings).get_bytes(job["args"]["source_key"])
    assert stored == data
    assert client.get(f"/api/v1/content/{content_id}/video").json["status"] == "queued"
    assert client.get(f"/api/v1/content/{content_id}").json["video"] == {
        "status": "queued",
        "poster_url": None,
        "thumbnail_url": None,
    }
    # Completing again (the answer was lost) gives the same job, not a second transcode.
    repeat = client.post(f"/api/v1/uploads/{upload_id}/complete", headers=headers)
    assert repeat.status_code == 202 and repeat.json["job"]["id"] == job["id"]
    row = db_session.get(Upload, upload_id)
    assert row is not None and row.filename == "holiday.mp4"


def test_creating_an_upload_checks_size_type_and_rights(make_app: Any, db_session: Session) -> None:
    client = make_app(max_upload_bytes=1000).test_client()
    _, content_id, headers = creator_with_title(client, db_session)
    too_big = start(client, content_id, headers, 1001)
    assert too_big.status_code == 413 and too_big.json["error"]["code"] == "too_large"
    not_video = start(client, content_id, headers, 10, content_type="text/plain")
    assert not_video.status_code == 415
    other = make_user(db_session, roles=("creator",))
    viewer = make_user(db_session)
    db_session.commit()
    assert start(client, content_id, login(client, other.email), 10).status_code == 403
    assert start(client, content_id, login(client, viewer.email), 10).status_code == 403
    assert start(client, content_id, {}, 10).status_code == 401
    assert start(client, 999_999_999, headers, 10).status_code == 404
    assert start(client, content_id, headers, 0).status_code == 422
    assert db_session.scalar(select(Upload).where(Upload.content_id == content_id)) is None


@pytest.mark.parametrize(
    ("content_range", "body", "status"),
    [
        (None, b"x" * 10, 422),  # no Content-Range
        ("bytes 0-9/11", b"x" * 10, 422),  # total differs from the declared size
        ("bytes 0-9/10", b"x" * 5, 422),  # body shorter than the range
        ("bytes 0-9/10", b"not a video at all", 422),  # body longer than the range
        ("items 0-9/10", b"x" * 10, 422),
        ("bytes 0-9/10", b"plain text", 415),  # right size, not a video
    ],
)
def test_bad_chunks_change_nothing(
    client: FlaskClient, db_session: Session, content_range: str | None, body: bytes, status: int
) -> None:
    _, content_id, headers = creator_with_title(client, db_session)
    upload_id = start(client, content_id, headers, 10).json["upload_id"]
    extra = {"Content-Range": content_range} if content_range else {}
    answer = client.put(f"/api/v1/uploads/{upload_id}", data=body, headers={**headers, **extra})
    assert answer.status_code == status, answer.json
    assert set(answer.json) == {"error"}
    assert client.get(f"/api/v1/uploads/{upload_id}", headers=headers).json["received"] == 0


def test_someone_elses_upload_is_not_found(client: FlaskClient, db_session: Session) -> None:
    _, content_id, headers = creator_with_title(client, db_session)
    upload_id = start(client, content_id, headers, 100).json["upload_id"]
    stranger = make_user(db_session, roles=("creator",))
    db_session.commit()
    theirs = login(client, stranger.email)
    assert client.get(f"/api/v1/uploads/{upload_id}", headers=theirs).status_code == 404
    assert put(client, upload_id, mp4_bytes(100), 0, 100, theirs).status_code == 404
    assert client.get("/api/v1/uploads/nope", headers=headers).status_code == 404


def test_complete_before_every_byte_is_409(client: FlaskClient, db_session: Session) -> None:
    _, content_id, headers = creator_with_title(client, db_session)
    upload_id = start(client, content_id, headers, 100).json["upload_id"]
    answer = client.post(f"/api/v1/uploads/{upload_id}/complete", headers=headers)
    assert answer.status_code == 409
    assert answer.json["error"]["details"] == {"received": "0"}
    assert db_session.scalars(select(Job).where(Job.type == "media.transcode")).all() == []


def test_expired_uploads_are_closed_and_their_parts_freed(
    client: FlaskClient, db_session: Session, settings: Settings
) -> None:
    _, content_id, headers = creator_with_title(client, db_session)
    data = mp4_bytes(CHUNK + 10)
    upload_id = start(client, content_id, headers, len(data)).json["upload_id"]
    upload = db_session.get(Upload, upload_id)
    assert upload is not None and upload.multipart_id
    storage = make_storage(settings)
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
    bucket = settings.resolved_storage_url.split("/")[2]

    def open_parts() -> list[str]:
        listed = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return [u["UploadId"] for u in listed]

    assert upload.multipart_id in open_parts()
    upload.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert put(client, upload_id, data[:CHUNK], 0, len(data), headers).status_code == 409
    assert uploads.expire(session=db_session, storage=storage, now=utcnow()) >= 1
    db_session.commit()
    assert db_session.get(Upload, upload_id).status == "expired"
    assert upload.multipart_id not in open_parts()
    assert db_session.get(Video, content_id).status == "none"
    assert client.get(f"/api/v1/content/{content_id}/video").json["status"] == "none"
