"""The first vertical slice over the Flask test client, on PostgreSQL and RabbitMQ."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Job, Rating
from db.services import jobs
from tests.auth import login
from tests.factories import make_content, make_user


def test_register_login_me(client: FlaskClient) -> None:
    body = {"email": "New@Example.org", "password": "a long enough pass", "display_name": "New"}
    created = client.post("/api/v1/auth/register", json=body)
    assert created.status_code == 201
    assert created.json["user"]["email"] == "new@example.org"
    assert created.json["user"]["roles"] == ["user"]
    assert "password" not in created.json["user"]

    headers = login(client, "NEW@example.org", "a long enough pass")
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json["id"] == created.json["user"]["id"]


def test_duplicate_email_is_409_case_insensitive(client: FlaskClient, db_session: Session) -> None:
    make_user(db_session, email="taken@example.org")
    body = {"email": "TAKEN@example.org", "password": "a long enough pass", "display_name": "X"}
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": "a long enough pass", "display_name": "X"}, "email"),
        ({"email": "a@example.org", "password": "short", "display_name": "X"}, "password"),
        ({"email": "a@example.org", "password": "a long enough pass"}, "display_name"),
    ],
)
def test_register_validation_names_the_field(client: FlaskClient, body: dict, field: str) -> None:
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert field in response.json["error"]["details"]


def test_login_failure_has_one_message(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    wrong_password = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "not the password"}
    )
    unknown_email = client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.org", "password": "not the password"}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json == unknown_email.json


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/register", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"


def test_me_without_token_is_401(client: FlaskClient) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_only_creators_create_content(client: FlaskClient, db_session: Session) -> None:
    plain = make_user(db_session)
    creator = make_user(db_session, roles=("creator",))
    body = {"title": "Heat", "genres": ["Crime", "Thriller"], "release_year": 1995}

    denied = client.post("/api/v1/content", json=body, headers=login(client, plain.email))
    assert denied.status_code == 403

    created = client.post("/api/v1/content", json=body, headers=login(client, creator.email))
    assert created.status_code == 201
    doc = created.json
    assert doc["owner_id"] == creator.id
    assert doc["genres"] == ["Crime", "Thriller"]
    assert doc["rating"] == {"average": None, "count": 0, "bayesian": None}

    fetched = client.get(f"/api/v1/content/{doc['id']}")
    assert fetched.status_code == 200
    assert fetched.json["title"] == "Heat"


def test_unknown_genre_is_422_naming_it(client: FlaskClient, db_session: Session) -> None:
    creator = make_user(db_session, roles=("creator",))
    response = client.post(
        "/api/v1/content",
        json={"title": "X", "genres": ["Drama", "Polka"]},
        headers=login(client, creator.email),
    )
    assert response.status_code == 422
    assert "Polka" in response.json["error"]["details"]["genres"]


def test_unknown_content_is_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/content/987654321")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


@pytest.mark.parametrize("score", [0, 5.5, "abc", 2.3, None, True])
def test_bad_scores_are_422_and_change_nothing(
    client: FlaskClient, db_session: Session, score: object
) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    jobs_before = db_session.scalar(select(func.count()).select_from(Job))
    response = client.put(
        f"/api/v1/content/{item.id}/rating",
        json={"score": score},
        headers=login(client, user.email),
    )
    assert response.status_code == 422
    assert "score" in response.json["error"]["details"]
    assert db_session.scalar(select(func.count()).select_from(Rating)) == 0
    assert db_session.scalar(select(func.count()).select_from(Job)) == jobs_before


def test_rating_missing_content_is_404(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    response = client.put(
        "/api/v1/content/987654321/rating", json={"score": 3}, headers=login(client, user.email)
    )
    assert response.status_code == 404


def test_rating_is_an_idempotent_upsert_and_bursts_share_a_job(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    headers = login(client, user.email)
    for score in (3.0, 4.5, 4.5):
        response = client.put(
            f"/api/v1/content/{item.id}/rating", json={"score": score}, headers=headers
        )
        assert response.status_code == 200
        assert response.json["score"] == score
    rows = db_session.scalars(select(Rating).where(Rating.content_id == item.id)).all()
    assert [r.score for r in rows] == [4.5]
    jobs = db_session.scalars(select(Job).where(Job.type == "ratings.recompute_stats")).all()
    # Three ratings while the recompute was still queued: one job covers them all.
    assert [(j.dedup_key, j.status) for j in jobs] == [("stats:pending", "queued")]
    # Published after commit: the broker confirmed the message.
    assert jobs[0].published_at is not None

    mine = client.get(f"/api/v1/content/{item.id}", headers=headers)
    assert mine.json["your_rating"] == 4.5


def test_delete_rating(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    headers = login(client, user.email)
    client.put(f"/api/v1/content/{item.id}/rating", json={"score": 2}, headers=headers)
    response = client.delete(f"/api/v1/content/{item.id}/rating", headers=headers)
    assert response.status_code == 204
    assert db_session.get(Rating, (user.id, item.id)) is None


def test_openapi_describes_the_slice(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json")
    assert doc.status_code == 200
    paths = doc.json["paths"]
    for path in (
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/content",
        "/api/v1/content/{content_id}",
        "/api/v1/content/{content_id}/rating",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path


def test_unknown_route_and_method_are_json(client: FlaskClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/genres")
    assert wrong.status_code == 405 and wrong.json["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]


def test_oversized_body_is_413(client: FlaskClient) -> None:
    body = '{"email": "' + "a" * (2 * 1024 * 1024) + '"}'
    response = client.post("/api/v1/auth/register", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"


def test_unknown_fields_are_refused(client: FlaskClient) -> None:
    body = {
        "email": "x@example.org",
        "password": "a long enough pass",
        "display_name": "X",
        "roles": ["admin"],
    }
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert "roles" in response.json["error"]["details"]


@pytest.mark.parametrize(
    "title", ["nul\x00inside", "lone \udc17 surrogate"], ids=["nul", "surrogate"]
)
def test_unstorable_text_is_422(client: FlaskClient, db_session: Session, title: str) -> None:
    creator = make_user(db_session, roles=("creator",))
    response = client.post(
        "/api/v1/content", json={"title": title}, headers=login(client, creator.email)
    )
    assert response.status_code == 422
    assert response.json["error"]["details"] == {
        "title": "contains characters that are not allowed"
    }


@pytest.mark.parametrize("score", [-1.7976931348623157e308, 1e309, 4.25])
def test_extreme_scores_are_422(client: FlaskClient, db_session: Session, score: float) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    response = client.put(
        f"/api/v1/content/{item.id}/rating",
        json={"score": score},
        headers=login(client, user.email),
    )
    assert response.status_code == 422


def test_progress_completed_must_be_a_boolean(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    response = client.post(
        f"/api/v1/content/{item.id}/progress",
        json={"position_s": 1, "completed": 0},
        headers=login(client, user.email),
    )
    assert response.status_code == 422 and "completed" in response.json["error"]["details"]


def test_huge_ids_are_404(client: FlaskClient) -> None:
    assert client.get(f"/api/v1/content/{2**70}").status_code == 404


def test_operator_retries_a_dead_job(client: FlaskClient, db_session: Session) -> None:

    ops = login(client, make_user(db_session, roles=("ops",)).email)
    job = jobs.enqueue(session=db_session, type="trending.refresh", args={}, max_attempts=1)
    assert client.post(f"/api/v1/jobs/{job.id}/retry", headers=ops).status_code == 409
    jobs.start(session=db_session, job_id=job.id)
    jobs.fail(session=db_session, job_id=job.id, error="boom", retryable=True)
    assert job.status == "dead"
    db_session.commit()
    response = client.post(f"/api/v1/jobs/{job.id}/retry", headers=ops)
    assert response.status_code == 202
    assert (response.json["job"]["status"], response.json["job"]["attempts"]) == ("queued", 0)
    db_session.refresh(job)
    assert job.published_at is not None  # sent again after the commit
    assert client.post("/api/v1/jobs/987654/retry", headers=ops).status_code == 404


def test_unstorable_text_in_a_query_string_is_422(client: FlaskClient) -> None:
    # Found by the fuzzer: webargs hands query strings over as a proxy, not a dict.
    response = client.get("/api/v1/content?q=a%00b")
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"q": "contains characters that are not allowed"}


def test_unstorable_text_in_a_nested_key_is_422(client: FlaskClient, db_session: Session) -> None:
    admin = make_user(db_session, roles=("admin",))
    response = client.post(
        "/api/v1/admin/retrain",
        json={"params": {"ok": {"bad\udc17key": 1}}},
        headers=login(client, admin.email),
    )
    assert response.status_code == 422
    assert response.json["error"]["details"] == {
        "params.ok.(a key)": "contains characters that are not allowed"
    }
    assert db_session.query(Job).filter(Job.type == "recommender.retrain").count() == 0
