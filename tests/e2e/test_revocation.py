"""Revocation holds across gunicorn workers and across a restart of the web."""

from __future__ import annotations

import pytest

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
