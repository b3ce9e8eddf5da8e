"""The title read model (db/read_models/titles.py): the documents it serves are the
Content documents of API.md, and they follow every change to a title at once."""

from __future__ import annotations

import json
from typing import Any

import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from db.read_models.titles import VIEWER_TAIL, TitleStore
from db.services import jobs, ratings, videos
from tests.auth import login
from tests.factories import make_content, make_published_video, make_user
from web.content.schemas import ContentOut
from web.media.urls import media_urls
from web.runtime import runtime


def store_of(app: Flask) -> TitleStore:
    with app.app_context():
        return runtime().titles


def creator_headers(client: FlaskClient, session: Session) -> tuple[Any, dict[str, str]]:
    user = make_user(session, roles=("creator",))
    return user, login(client, user.email)


def test_documents_are_the_content_documents_of_the_api(app: Flask, db_session: Session) -> None:
    owner = make_user(db_session, roles=("creator",))
    item = make_content(
        db_session, owner=owner, genres=["Drama", "Comedy"], release_year=1999, description="é"
    )
    video = make_published_video(db_session, item, job_id=7)
    for score in (4.0, 2.5):
        ratings.rate(
            session=db_session, user_id=make_user(db_session).id, content_id=item.id, score=score
        )
    stats = ratings.recompute_stats(session=db_session, content_id=item.id, prior_mean=3.0)
    plain = make_content(db_session, genres=[])
    with app.test_request_context():
        docs = runtime().titles.documents(db_session, [item.id, plain.id])
        urls = media_urls()
        rich, bare = json.loads(docs[item.id]), json.loads(docs[plain.id])
        assert set(rich) == set(ContentOut().fields) == set(bare)
        assert all(d.endswith(VIEWER_TAIL) for d in docs.values())
        assert rich["id"] == item.id and rich["owner_id"] == owner.id
        assert (rich["title"], rich["description"], rich["release_year"]) == (
            item.title,
            "é",
            1999,
        )
        assert rich["genres"] == ["Comedy", "Drama"]
        assert rich["created_at"] == item.created_at.isoformat()
        assert rich["rating"] == {
            "average": stats["mean"],
            "count": 2,
            "bayesian": (10 * 3.0 + 6.5) / 12,
        }
        assert video.poster_key is not None
        assert rich["video"] == {
            "status": "ready",
            "poster_url": urls.direct(video.poster_key),
            "thumbnail_url": urls.direct(video.thumbnail_keys[0]),
        }
        assert bare["genres"] == [] and bare["video"]["status"] == "none"
        assert bare["rating"] == {"average": None, "count": 0, "bayesian": None}
        # The API sends the same documents.
        assert app.test_client().get(f"/api/v1/content/{item.id}").json == rich


def test_an_edit_is_served_at_once(client: FlaskClient, db_session: Session, app: Flask) -> None:
    _, headers = creator_headers(client, db_session)
    created = client.post(
        "/api/v1/content", json={"title": "Old", "genres": ["Drama"]}, headers=headers
    )
    assert created.status_code == 201
    content_id = created.json["id"]
    assert client.get(f"/api/v1/content/{content_id}").json["title"] == "Old"
    store = store_of(app)
    assert store.cache is not None and store.cache.get(store.doc_key(content_id))
    patched = client.patch(
        f"/api/v1/content/{content_id}",
        json={"title": "New", "genres": ["Comedy"]},
        headers=headers,
    )
    assert patched.status_code == 200 and patched.json["title"] == "New"
    shown = client.get(f"/api/v1/content/{content_id}").json
    assert (shown["title"], shown["genres"]) == ("New", ["Comedy"])
    listed = client.get("/api/v1/content?q=New").json["items"]
    assert [i["title"] for i in listed if i["id"] == content_id] == ["New"]


def test_a_deleted_title_is_gone_everywhere(
    client: FlaskClient, db_session: Session, app: Flask
) -> None:
    owner, headers = creator_headers(client, db_session)
    item = make_content(db_session, owner=owner)
    db_session.commit()
    assert client.get(f"/api/v1/content/{item.id}").status_code == 200
    assert client.delete(f"/api/v1/content/{item.id}", headers=headers).status_code == 204
    gone = client.get(f"/api/v1/content/{item.id}")
    assert gone.status_code == 404 and gone.json["error"]["message"] == f"No content {item.id}."
    store = store_of(app)
    assert store.cache is not None and store.cache.get(store.doc_key(item.id)) is None
    assert client.get(f"/api/v1/content/{item.id}/similar").status_code == 404


def test_a_rating_and_its_deletion_show_in_the_viewers_fields(
    client: FlaskClient, db_session: Session, app: Flask
) -> None:
    viewer = make_user(db_session)
    item = make_content(db_session)
    headers = login(client, viewer.email)
    assert client.get(f"/api/v1/content/{item.id}", headers=headers).json["your_rating"] is None
    assert (
        client.put(
            f"/api/v1/content/{item.id}/rating", json={"score": 4.5}, headers=headers
        ).status_code
        == 200
    )
    assert client.get(f"/api/v1/content/{item.id}", headers=headers).json["your_rating"] == 4.5
    # The shared document carries no viewer: signed out, nobody's rating shows.
    signed_out = app.test_client()  # no cookies of the viewer's sign-in
    assert signed_out.get(f"/api/v1/content/{item.id}").json["your_rating"] is None
    page = client.get("/api/v1/content?per_page=100", headers=headers).json["items"]
    assert [i["your_rating"] for i in page if i["id"] == item.id] == [4.5]
    assert client.delete(f"/api/v1/content/{item.id}/rating", headers=headers).status_code == 204
    assert client.get(f"/api/v1/content/{item.id}", headers=headers).json["your_rating"] is None


def test_a_late_writer_reads_as_a_miss_never_as_stale(app: Flask, db_session: Session) -> None:
    item = make_content(db_session, title="Before")
    store = store_of(app)
    assert store.cache is not None
    with app.app_context():
        before = store.documents(db_session, [item.id])[item.id]
        stale_generation = store.cache.get(store.gen_key(item.id)) or "0"
        item.title = "After"
        db_session.flush()
        store.refresh(db_session, [item.id])
        # A reader that built from the old rows stores its copy under the old tag...
        store.cache.set(store.doc_key(item.id), f"{stale_generation}|{before}")
        # ...and nobody serves it.
        assert json.loads(store.documents(db_session, [item.id])[item.id])["title"] == "After"


def test_a_flushed_redis_rebuilds_from_the_database(
    client: FlaskClient, db_session: Session, app: Flask
) -> None:
    item = make_content(db_session, title="Kept")
    assert client.get(f"/api/v1/content/{item.id}").json["title"] == "Kept"
    store = store_of(app)
    assert store.cache is not None
    store.cache.flushdb()
    assert client.get(f"/api/v1/content/{item.id}").json["title"] == "Kept"
    assert store.cache.get(store.doc_key(item.id)) is not None


def test_with_redis_down_the_database_answers(make_app: Any, db_session: Session) -> None:
    app = make_app(redis_url="redis://127.0.0.1:1/0")
    client = app.test_client()
    viewer = make_user(db_session)
    item = make_content(db_session, title="Offline")
    headers = login(client, viewer.email)
    shown = client.get(f"/api/v1/content/{item.id}", headers=headers)
    assert shown.status_code == 200 and shown.json["title"] == "Offline"
    home = client.get("/api/v1/homepage", headers=headers)
    assert home.status_code == 200
    recs = client.get("/api/v1/recommendations", headers=headers)
    assert recs.status_code == 200 and isinstance(recs.json["items"], list)


def test_documents_survive_a_redis_that_fails_midway(app: Flask, db_session: Session) -> None:
    item = make_content(db_session, title="Midway")
    store = store_of(app)
    broken = TitleStore(redis.Redis.from_url("redis://127.0.0.1:1/0"), store.urls)
    with app.app_context():
        broken.refresh(db_session, [item.id])  # logged, not raised
        assert json.loads(broken.documents(db_session, [item.id])[item.id])["title"] == "Midway"


def test_a_transcodes_state_shows_on_its_title_at_once(
    client: FlaskClient, db_session: Session
) -> None:
    item = make_content(db_session)
    db_session.commit()

    def status() -> str:
        return str(client.get(f"/api/v1/content/{item.id}").json["video"]["status"])

    assert status() == "none"
    job = videos.queue_transcode(session=db_session, content_id=item.id, source_key="up/x.mp4")
    db_session.commit()
    assert status() == "queued"
    assert jobs.start(session=db_session, job_id=job.id) is not None
    db_session.commit()
    assert status() == "processing"
    jobs.fail(session=db_session, job_id=job.id, error="damaged", retryable=False)
    db_session.commit()
    assert status() == "failed"
