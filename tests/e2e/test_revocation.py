"""Revocation holds across gunicorn workers and across a restart of the web."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.processes import Api, Platform, Process

PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["embedded", "on_services"])
def platform(request: pytest.FixtureRequest) -> Platform:
    """Each test on the embedded default and on the services."""
    chosen: Platform = request.getfixturevalue(request.param)
    return chosen


def signed_up(platform: Platform, *, threads: int, email: str) -> tuple[Process, Api]:
    """The platform migrated, its web on two gunicorn workers, and `email` signed up."""
    platform.env["CBRTL_WEB_WORKERS"] = "2"
    platform.env["CBRTL_WEB_THREADS"] = str(threads)
    platform.cbrtl("db", "upgrade")
    web = platform.start_web()
    api = Api(platform.base_url)
    body = {"email": email, "password": PASSWORD, "display_name": "R"}
    assert api.call("POST", "/auth/register", json=body).status_code == 201
    return web, api


def test_logout_holds_across_workers_and_restart(platform: Platform) -> None:
    web, api = signed_up(platform, threads=1, email="r@example.org")
    creds = {"email": "r@example.org", "password": PASSWORD}
    pair = api.call("POST", "/auth/login", json=creds).json()
    other = api.token("r@example.org", PASSWORD)
    api.http.cookies.clear()  # API-client style: the bearer header only

    # Fresh connections each time, so both gunicorn workers answer some of them.
    def status(path: str, token: str, method: str = "GET") -> int:
        return Api(platform.base_url).call(method, path, token).status_code

    assert {status("/me", pair["access_token"]) for _ in range(10)} == {200}
    assert status("/auth/logout", pair["access_token"], "POST") == 204
    assert {status("/me", pair["access_token"]) for _ in range(20)} == {401}
    assert status("/auth/refresh", pair["refresh_token"], "POST") == 401

    web.kill()
    platform.start_web()
    assert {status("/me", pair["access_token"]) for _ in range(10)} == {401}
    assert status("/auth/refresh", pair["refresh_token"], "POST") == 401
    assert status("/me", other) == 200


def test_simultaneous_refreshes_with_one_token_make_one_winner(platform: Platform) -> None:
    """Both refreshes got 200 and a working pair on the embedded default (SQLite)."""
    _, api = signed_up(platform, threads=4, email="race@example.org")
    creds = {"email": "race@example.org", "password": PASSWORD}
    for _ in range(5):
        refresh = api.call("POST", "/auth/login", json=creds).json()["refresh_token"]
        api.http.cookies.clear()  # the racers present the bearer token only

        def rotate(start: threading.Barrier, token: str = refresh) -> requests.Response:
            start.wait(timeout=10)
            return Api(platform.base_url).call("POST", "/auth/refresh", token)

        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(rotate, [threading.Barrier(2)] * 2))
        assert sorted(a.status_code for a in answers) == [200, 401], [a.text for a in answers]
        # The loser was a reuse: the family, the winner's new pair with it, is revoked.
        winner = next(a.json() for a in answers if a.status_code == 200)
        assert Api(platform.base_url).call("GET", "/me", winner["access_token"]).status_code == 401
