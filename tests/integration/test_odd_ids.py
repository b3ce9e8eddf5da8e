"""Ids in the path that no row can have are a 404, never a 500 (a NUL byte reached
PostgreSQL, which refuses it)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.auth import login
from tests.factories import make_user

ODD_UPLOAD_IDS = ["%00", "a%00b", "%0A", "..", "%2E%2E", "A" * 32, "0" * 31, "f" * 5000, "%FF"]


@pytest.mark.parametrize("upload_id", ODD_UPLOAD_IDS)
def test_odd_upload_ids_are_no_such_upload(
    client: FlaskClient, db_session: Session, upload_id: str
) -> None:
    creator = make_user(db_session, roles=("creator",))
    db_session.commit()
    headers = login(client, creator.email)
    for answer in (
        client.get(f"/api/v1/uploads/{upload_id}", headers=headers),
        client.put(
            f"/api/v1/uploads/{upload_id}",
            headers={**headers, "Content-Range": "bytes 0-0/1"},
            data=b"x",
        ),
        client.post(f"/api/v1/uploads/{upload_id}/complete", headers=headers),
    ):
        assert answer.status_code == 404, answer.data[:300]
        assert answer.json["error"]["code"] == "not_found"
