"""Deleting a title: its media answer 404 at once, and a job queued with the delete
removes every object it had (S3 on moto and a local folder), idempotently, retried."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.job_types import job_type
from db.models import Job, User
from db.services import content as catalogue
from db.settings import Settings
from db.storage import S3Storage, Storage
from tasks import purge
from tests.auth import login
from tests.conftest import BUCKET
from tests.factories import make_content, make_published_video, make_user
from tests.in_process import on_test_services, run_job
from web.runtime import EXTENSION

PURGE = "media.purge_title"
SET_FILES = (
    "master.m3u8",
    "360p/index.m3u8",
    "360p/seg_00000.ts",
    "poster.jpg",
    "thumbs/t_0001.jpg",
)


@pytest.fixture(params=["s3", "local"])
def app(request: pytest.FixtureRequest, make_app: Any, tmp_path: Path) -> Flask:
    """The web on S3 (moto) or on a local folder."""
    if request.param == "s3":
        return make_app()
    return make_app(storage_url=f"file://{tmp_path}")


def storage_of(app: Flask) -> Storage:
    store: Storage = app.extensions[EXTENSION].storage
    return store


def with_video(db_session: Session, store: Storage, owner: User | None = None) -> int:
    """A title with a published set (j2), an abandoned one (j1) and a source."""
    content = make_content(db_session, owner=owner)
    video = make_published_video(db_session, content, job_id=2)
    video.source_key = f"sources/{content.id}/abc"
    db_session.commit()
    for job in (1, 2):
        for name in SET_FILES:
            store.put_bytes(f"videos/{content.id}/j{job}/{name}", b"x", content_type="video/mp2t")
    store.put_bytes(video.source_key, b"source", content_type="video/mp4")
    return content.id


def stored(store: Storage, content_id: int) -> list[str]:
    return store.list_keys(f"videos/{content_id}") + store.list_keys(f"sources/{content_id}")


def unfinished_uploads(store: Storage, content_id: int) -> list[str]:
    """S3 multipart uploads (or local partial files) under the title's sources."""
    if isinstance(store, S3Storage):
        listed = store.client.list_multipart_uploads(
            Bucket=BUCKET, Prefix=f"{store.prefix}/sources/{content_id}/"
        )
        return [u["Key"] for u in listed.get("Uploads", [])]
    return [k for k in store.list_keys(f"sources/{content_id}") if k.endswith(".partial")]


def purge_jobs(db_session: Session, content_id: int) -> list[Job]:
    jobs = db_session.scalars(select(Job).where(Job.type == PURGE)).all()
    return [j for j in jobs if j.args == {"content_id": content_id}]


@dataclass(frozen=True)
class Deleted:
    client: FlaskClient
    content_id: int
    urls: dict[str, str]  # the title's media, as served before the delete
    upload_id: str
    headers: dict[str, str]


def delete_title(app: Flask, db_session: Session) -> Deleted:
    """An owner's title with a video and an unfinished upload; deleted over HTTP."""
    client = app.test_client()
    store = storage_of(app)
    creator = make_user(db_session, roles=("creator",))
    content_id = with_video(db_session, store, owner=creator)
    headers = login(client, creator.email)
    upload = client.post(
        f"/api/v1/content/{content_id}/uploads",
        json={"filename": "b.mp4", "size_bytes": 10_000_000, "content_type": "video/mp4"},
        headers=headers,
    )
    assert upload.status_code == 201
    assert unfinished_uploads(store, content_id)
    urls = {
        "master": f"/media/videos/{content_id}/j2/master.m3u8",
        "variant": f"/media/videos/{content_id}/j2/360p/index.m3u8",
        "segment": f"/media/videos/{content_id}/j2/360p/seg_00000.ts",
        "poster": f"/media/videos/{content_id}/j2/poster.jpg",
    }
    for url in urls.values():  # served (S3: segments and posters by a signed redirect)
        with client.get(url) as answer:
            assert answer.status_code in (200, 302), url
    assert client.delete(f"/api/v1/content/{content_id}", headers=headers).status_code == 204
    return Deleted(client, content_id, urls, upload.json["upload_id"], headers)


def test_a_deleted_titles_media_answer_404_at_once(app: Flask, db_session: Session) -> None:
    gone = delete_title(app, db_session)
    client, content_id = gone.client, gone.content_id
    answers = {}
    for name, url in {**gone.urls, "source": f"/media/sources/{content_id}/abc"}.items():
        with client.get(url) as answer:
            answers[name] = answer.status_code
    assert answers == dict.fromkeys([*gone.urls, "source"], 404)
    assert client.get(f"/api/v1/content/{content_id}/video").status_code == 404
    upload = client.get(f"/api/v1/uploads/{gone.upload_id}", headers=gone.headers)
    assert upload.status_code == 404
    # Nothing is gone from storage yet: that is the job's work, after the commit.
    assert stored(storage_of(app), content_id)


def test_the_delete_queues_a_purge_that_removes_every_object(
    app: Flask, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = storage_of(app)
    neighbour = with_video(db_session, store)
    content_id = delete_title(app, db_session).content_id
    (job,) = purge_jobs(db_session, content_id)
    assert job.status == "queued" and job.queue == job_type(PURGE).queue == "default"

    monkeypatch.setattr(purge, "storage", lambda: store)
    first = purge.purge_title(db_session, dict(job.args))
    assert first["removed"] >= 2 * len(SET_FILES) + 1
    assert stored(store, content_id) == []
    assert unfinished_uploads(store, content_id) == []
    # A second run (a redelivery) finds nothing and succeeds.
    assert purge.purge_title(db_session, dict(job.args)) == {"removed": 0}
    # Another title's objects are untouched.
    assert len(stored(store, neighbour)) == 2 * len(SET_FILES) + 1


def test_a_reused_id_is_not_purged(
    app: Flask, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite may give a deleted title's id to the next title: a late purge must not
    # delete the new title's files.
    store = storage_of(app)
    content_id = with_video(db_session, store)
    monkeypatch.setattr(purge, "storage", lambda: store)
    assert purge.purge_title(db_session, {"content_id": content_id})["removed"] == 0
    assert len(stored(store, content_id)) == 2 * len(SET_FILES) + 1


class FlakyStorage:
    """A store whose first delete fails as an unreachable S3 endpoint does."""

    def __init__(self, store: Storage) -> None:
        self.store, self.calls = store, 0

    def delete_prefix(self, prefix: str) -> int:
        self.calls += 1
        if self.calls == 1:
            raise EndpointConnectionError(endpoint_url="http://s3.invalid")
        return self.store.delete_prefix(prefix)


def test_a_storage_outage_is_retried_by_the_runner(
    settings: Settings,
    db_session: Session,
    session_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = S3Storage(BUCKET, "media", settings.s3_endpoint_url)
    content_id = with_video(db_session, store)
    catalogue.delete_content(session=db_session, content_id=content_id, user_id=0, is_admin=True)
    db_session.commit()
    (job,) = purge_jobs(db_session, content_id)
    job_id = job.id
    on_test_services(monkeypatch, session_factory, FlakyStorage(store))

    run_job(PURGE, job_id)
    db_session.refresh(job)
    assert (job.status, job.attempts) == ("queued", 1)  # a retry, waiting for the relay
    assert "EndpointConnectionError" in (job.error or "")

    run_job(PURGE, job_id)
    db_session.refresh(job)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert stored(store, content_id) == []
