"""A failed video's public `error` is a sentence for people; the technical detail
(paths, ffprobe and ffmpeg output) stays on the job, where operators read it."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

import tasks.media  # noqa: F401 - registers the transcode task
from db.models import Job
from db.services import jobs, videos
from db.settings import Settings
from db.storage import S3Storage
from tests.conftest import BUCKET
from tests.factories import MP4_HEAD, make_content
from tests.in_process import on_test_services, run_job

# An MP4's first box, then text: it passes the upload's sniffing, not ffprobe.
NOT_REALLY_MP4 = MP4_HEAD + b"notes " * 500


def test_an_unplayable_upload_says_why_without_paths_or_tool_output(
    client: FlaskClient,
    settings: Settings,
    db_session: Session,
    session_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = S3Storage(BUCKET, "media", settings.s3_endpoint_url)
    content_id = make_content(db_session).id
    key = f"sources/{content_id}/notes"
    store.put_bytes(key, NOT_REALLY_MP4, content_type="video/mp4")
    job = videos.queue_transcode(
        session=db_session, content_id=content_id, source_key=key, source_bytes=3000
    )
    db_session.commit()
    on_test_services(monkeypatch, session_factory, store)

    run_job("media.transcode", job.id)

    db_session.refresh(job)
    assert job.status == "failed"
    document = client.get(f"/api/v1/content/{content_id}/video").json
    assert document["status"] == "failed"
    assert document["error"] == "The file is incomplete or damaged."
    # The job keeps what ffprobe said about the worker's file, for operators.
    assert job.error is not None and job.error.startswith("InvalidInput: " + document["error"])
    assert "ffprobe exit status" in job.error and "cbrtl-transcode-" in job.error


def test_a_job_error_is_never_the_public_error(client: FlaskClient, db_session: Session) -> None:
    # A transcode that died of something else (a full disk, a lost store) has no
    # reason for people; its job's error names the worker's paths.
    content_id = make_content(db_session).id
    job = videos.queue_transcode(
        session=db_session, content_id=content_id, source_key=f"sources/{content_id}/s"
    )
    db_session.flush()
    started = jobs.start(session=db_session, job_id=job.id)
    assert started is not None
    leaked = "OSError: [Errno 28] No space left on device: '/tmp/cbrtl-transcode-5-x/out'"
    jobs.fail(session=db_session, job_id=job.id, error=leaked, retryable=False)
    db_session.commit()
    assert db_session.get(Job, job.id).status == "failed"

    document = client.get(f"/api/v1/content/{content_id}/video").json
    assert document["status"] == "failed"
    assert document["error"] == "Something went wrong on our side."
