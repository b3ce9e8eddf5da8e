"""Signing in from tests."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import PASSWORD


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}
