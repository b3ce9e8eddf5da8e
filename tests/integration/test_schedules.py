"""Schedules: the API, cron validation, and one firing per slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from db.models import Job, Schedule, ScheduleRun
from db.models.base import utcnow
from db.services import schedules
from tests import services
from tests.auth import login
from tests.factories import make_user


def ops_headers(client: FlaskClient, session: Session) -> dict[str, str]:
    return login(client, make_user(session, roles=("ops",)).email)


def test_schedule_crud(client: FlaskClient, db_session: Session) -> None:
    headers = ops_headers(client, db_session)
    body = {"name": "nightly", "job_type": "trending.refresh", "cron": "0 3 * * *"}
    created = client.post("/api/v1/admin/schedules", json=body, headers=headers)
    assert created.status_code == 201, created.json
    schedule = created.json
    assert schedule["enabled"] is True and schedule["next_run_at"].endswith("03:00:00+00:00")
    assert client.post("/api/v1/admin/schedules", json=body, headers=headers).status_code == 409

    paused = client.patch(
        f"/api/v1/admin/schedules/{schedule['id']}", json={"enabled": False}, headers=headers
    )
    assert paused.status_code == 200 and paused.json["next_run_at"] is None
    moved = client.patch(
        f"/api/v1/admin/schedules/{schedule['id']}",
        json={"enabled": True, "cron": "*/5 * * * *"},
        headers=headers,
    )
    assert moved.json["cron"] == "*/5 * * * *" and moved.json["next_run_at"] is not None
    listed = client.get("/api/v1/admin/schedules", headers=headers).json["items"]
    assert [s["name"] for s in listed] == ["nightly"]
    assert (
        client.delete(f"/api/v1/admin/schedules/{schedule['id']}", headers=headers).status_code
        == 204
    )
    assert client.get("/api/v1/admin/schedules", headers=headers).json["items"] == []
    assert (
        client.delete(f"/api/v1/admin/schedules/{schedule['id']}", headers=headers).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cron": "0 3 * *"}, "cron"),
        ({"cron": "0 3 * * * *"}, "cron"),
        ({"cron": "61 3 * * *"}, "cron"),
        ({"cron": "every night"}, "cron"),
        ({"job_type": "nope"}, "job_type"),
        ({"enabled": "yes"}, "enabled"),
    ],
)
def test_bad_schedules_are_422(
    client: FlaskClient, db_session: Session, changes: dict, field: str
) -> None:
    body = {"name": "x", "job_type": "trending.refresh", "cron": "0 3 * * *", **changes}
    response = client.post(
        "/api/v1/admin/schedules", json=body, headers=ops_headers(client, db_session)
    )
    assert response.status_code == 422
    assert field in response.json["error"]["details"]
    assert db_session.scalar(select(func.count()).select_from(Schedule)) == 0


def test_users_cannot_touch_schedules(client: FlaskClient, db_session: Session) -> None:
    headers = login(client, make_user(db_session).email)
    assert client.get("/api/v1/admin/schedules", headers=headers).status_code == 403


def test_fire_due_enqueues_once_and_moves_on(db_session: Session) -> None:
    schedule = schedules.create(
        session=db_session, name="t", job_type="trending.refresh", cron="*/5 * * * *"
    )
    now = utcnow()
    assert schedules.fire_due(session=db_session, now=now) == []
    schedule.next_run_at = now - timedelta(minutes=1)
    slot = schedule.next_run_at
    fired = schedules.fire_due(session=db_session, now=now)
    assert len(fired) == 1
    job = db_session.get(Job, fired[0])
    assert job.type == "trending.refresh" and job.args == {"schedule_id": schedule.id}
    assert schedule.last_run_at == slot and schedule.next_run_at > now
    assert schedules.fire_due(session=db_session, now=now) == []


@pytest.fixture
def engine() -> Iterator[Engine]:
    with services.migrated_engine("cbrtl_sched") as engine:
        yield engine


def test_two_ticks_at_once_fire_a_slot_once(engine: Engine) -> None:
    with Session(engine) as session:
        schedule = schedules.create(
            session=session, name="race", job_type="trending.refresh", cron="* * * * *"
        )
        session.flush()
        session.execute(
            update(Schedule)
            .where(Schedule.id == schedule.id)
            .values(next_run_at=utcnow() - timedelta(seconds=5))
        )
        session.commit()

    barrier = threading.Barrier(4)
    results: list[list[int]] = []

    def tick() -> None:
        with Session(engine) as session:
            barrier.wait()
            results.append(schedules.fire_due(session=session, now=utcnow()))
            session.commit()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ScheduleRun)) == 1
        assert session.scalar(select(func.count()).select_from(Job)) == 1
