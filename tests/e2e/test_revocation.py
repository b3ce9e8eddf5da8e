"""Revocation holds across gunicorn workers and across a restart of the web."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.processes import Api, Platform

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize("where", ["embedded", "on_services"])
def test_logout_holds_across_workers_and_restart(
    where: str, request: pytest.FixtureRequest
) -> None:
    platform: Platform = request.getfixturevalue(where)
    platform.env["CBRTL_WEB_WORKERS"] = "2"
    platform.env["CBRTL_WEB_THREADS"] = "1"
    platform.cbrtl("db", "upgrade")
    web = platform.start_web()
    api = Api(platform.base_url)
    body = {"email": "r@example.org", "password": PASSWORD, "display_name": "R"}
    assert api.call("POST", "/auth/register", json=body).status_code == 201
    creds = {"email": body["email"], "password": PASSWORD}
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


@pytest.mark.parametrize("where", ["embedded", "on_services"])
def test_simultaneous_refreshes_with_one_token_make_one_winner(
    where: str, request: pytest.FixtureRequest
) -> None:
    """Both refreshes got 200 and a working pair on the embedded default (SQLite)."""
    platform: Platform = request.getfixturevalue(where)
    platform.env["CBRTL_WEB_WORKERS"] = "2"
    platform.env["CBRTL_WEB_THREADS"] = "4"
    platform.cbrtl("db", "upgrade")
    platform.start_web()
    api = Api(platform.base_url)
    body = {"email": "race@example.org", "password": PASSWORD, "display_name": "R"}
    assert api.call("POST", "/auth/register", json=body).status_code == 201
    for _ in range(5):
        refresh = (
            Api(platform.base_url)
            .call("POST", "/auth/login", json={"email": body["email"], "password": PASSWORD})
            .json()["refresh_token"]
        )

        def rotate(start: threading.Barrier, token: str = refresh) -> requests.Response:
            start.wait(timeout=10)
            return Api(platform.base_url).call("POST", "/auth/refresh", token)

        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(rotate, [threading.Barrier(2)] * 2))
        assert sorted(a.status_code for a in answers) == [200, 401], [a.text for a in answers]
        # The loser was a reuse: the family, the winner's new pair with it, is revoked.
        winner = next(a.json() for a in answers if a.status_code == 200)
        assert Api(platform.base_url).call("GET", "/me", winner["access_token"]).status_code == 401
