"""register -> login -> create -> rate -> the average appears, over HTTP, real processes."""

from __future__ import annotations

import pytest

from tests.e2e.processes import Api, Platform
from tests.services import wait_for

PASSWORD = "correct horse battery staple"


def run_slice(platform: Platform) -> None:
    platform.cbrtl(
        "users",
        "create",
        "--email",
        "creator@example.org",
        "--password",
        PASSWORD,
        "--role",
        "creator",
    )
    platform.start_web()
    platform.start_worker()
    api = Api(platform.base_url)

    registered = api.call(
        "POST",
        "/auth/register",
        json={"email": "viewer@example.org", "password": PASSWORD, "display_name": "Viewer"},
    )
    assert registered.status_code == 201, registered.text
    viewer = api.token("viewer@example.org", PASSWORD)
    creator = api.token("creator@example.org", PASSWORD)

    created = api.call("POST", "/content", creator, json={"title": "Alien", "genres": ["Sci-Fi"]})
    assert created.status_code == 201, created.text
    content_id = created.json()["id"]

    for token, score in ((viewer, 4.0), (creator, 2.5), (viewer, 5.0)):
        rated = api.call("PUT", f"/content/{content_id}/rating", token, json={"score": score})
        assert rated.status_code == 200, rated.text

    def settled() -> dict | None:
        rating = api.call("GET", f"/content/{content_id}").json()["rating"]
        return rating if rating["count"] == 2 and rating["average"] == 3.75 else None

    rating = wait_for(settled, timeout=30, what="the average to appear")
    assert rating["bayesian"] == pytest.approx(3.75)  # only this content: prior == mean


def test_slice_on_embedded_defaults(embedded: Platform) -> None:
    run_slice(embedded)


def test_slice_on_postgresql_rabbitmq_redis_s3(on_services: Platform) -> None:
    run_slice(on_services)
