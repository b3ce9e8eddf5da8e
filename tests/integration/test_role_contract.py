"""Every call the contract lists under "Jobs and operations (ops or admin)" admits ops.

The table below is API.md's, route by route: a role check that drifts from it (an
`admin`-only decorator on an ops call) is a 403 to the people meant to run the place.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.auth import login
from tests.factories import make_content, make_user

# (method, path, JSON body); {content} is a title without a video.
OPS_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/jobs", None),
    ("GET", "/api/v1/jobs/999999", None),
    ("POST", "/api/v1/jobs/999999/retry", None),
    ("POST", "/api/v1/jobs/999999/cancel", None),
    ("POST", "/api/v1/admin/retrain", {"algorithm": "auto"}),
    ("GET", "/api/v1/admin/models", None),
    ("POST", "/api/v1/admin/models/999999/activate", None),
    ("GET", "/api/v1/admin/schedules", None),
    (
        "POST",
        "/api/v1/admin/schedules",
        {"name": "nightly", "job_type": "recommender.retrain", "cron": "0 3 * * *"},
    ),
    ("PATCH", "/api/v1/admin/schedules/999999", {"enabled": False}),
    ("DELETE", "/api/v1/admin/schedules/999999", None),
    ("POST", "/api/v1/admin/transcodes", {"content_id": "{content}"}),
    ("GET", "/api/v1/admin/operations", None),
]


def _body(body: dict[str, Any] | None, content_id: int) -> dict[str, Any] | None:
    if body is None:
        return None
    return {k: content_id if v == "{content}" else v for k, v in body.items()}


@pytest.mark.parametrize(("method", "path", "body"), OPS_CALLS)
def test_ops_may_make_every_operations_call(
    client: FlaskClient,
    db_session: Session,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    ops = make_user(db_session, roles=("ops",))
    viewer = make_user(db_session)
    content = make_content(db_session)
    db_session.commit()

    as_ops = client.open(
        path, method=method, json=_body(body, content.id), headers=login(client, ops.email)
    )
    assert as_ops.status_code != 403, (method, path, as_ops.json)
    # A 404 / 409 for the made-up ids is fine: the role check has let the call through.
    assert as_ops.status_code < 500, as_ops.json

    as_viewer = client.open(
        path, method=method, json=_body(body, content.id), headers=login(client, viewer.email)
    )
    assert as_viewer.status_code == 403, (method, path, as_viewer.json)
