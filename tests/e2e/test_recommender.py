"""Retrain over the API on the ml queue, read the lists, guard a worse model, fold in a rating."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import Rating, RecModel, User
from db.services import content as catalogue
from db.services import ratings
from tests.e2e.processes import Api, Platform
from tests.factories import PASSWORD, make_user
from tests.services import wait_for

GENRES = ("Drama", "Comedy")


@pytest.fixture
def engine(on_services: Platform) -> Iterator[Engine]:
    engine = make_engine(on_services.env["CBRTL_DATABASE_URL"])
    yield engine
    engine.dispose()


def seed(engine: Engine) -> tuple[str, str, list[int]]:
    """Two taste groups over 40 titles; one real account in the first group."""
    rng = random.Random(5)
    with Session(engine, expire_on_commit=False) as session:
        viewer = make_user(session)
        ops = make_user(session, roles=("ops",))
        others = [
            User(email=f"u{n}@import.invalid", password_hash="!", display_name=f"u{n}")
            for n in range(60)
        ]
        session.add_all(others)
        items = [
            catalogue.create_content(
                session=session, owner_id=None, title=f"T{n}", genres=[GENRES[n % 2]]
            )
            for n in range(40)
        ]
        session.flush()
        for n, user in enumerate([viewer, *others]):
            liked = [i for i in items if (items.index(i) % 2) == (n % 2)]
            for item in rng.sample(liked, 12):
                session.add(
                    Rating(user_id=user.id, content_id=item.id, score=rng.choice([4, 4.5, 5]))
                )
        session.flush()
        for item in items:  # as the ratings queue would have
            ratings.recompute_stats(session=session, content_id=item.id)
        session.commit()
        return viewer.email, ops.email, [i.id for i in items]


def job_result(api: Api, token: str, job_id: int) -> dict:
    def finished() -> dict | None:
        job = api.call("GET", f"/jobs/{job_id}", token).json()
        return job if job["status"] in ("succeeded", "failed", "dead") else None

    job = wait_for(finished, timeout=180, interval=0.5, what=f"job {job_id}")
    assert job["status"] == "succeeded", job
    return job["result"]


def test_retrain_serves_lists_guards_and_folds_in(on_services: Platform, engine: Engine) -> None:
    viewer_email, ops_email, items = seed(engine)
    on_services.start_web()
    on_services.start_worker("ml")
    on_services.start_worker("ratings,default")
    api = Api(on_services.base_url)
    ops, viewer = api.token(ops_email, PASSWORD), api.token(viewer_email, PASSWORD)

    queued = api.call("POST", "/admin/retrain", ops, json={})
    assert queued.status_code == 202 and queued.json()["job"]["type"] == "recommender.retrain"
    result = job_result(api, ops, queued.json()["job"]["id"])
    assert result["ranking"]["activated"] and result["rating"]["activated"]
    assert result["ranking"]["metrics"]["ndcg@10"] > 0

    recs = api.call("GET", "/recommendations?limit=10", viewer).json()
    assert recs["model_version"] == result["ranking"]["version"]
    mine = {
        r.content_id
        for r in Session(engine).query(Rating).join(User).filter(User.email == viewer_email)
    }
    listed = [entry["content"]["id"] for entry in recs["items"]]
    assert listed and not set(listed) & mine
    assert all(entry["reason"].startswith("Because you rated T") for entry in recs["items"])
    similar = api.call("GET", f"/content/{items[0]}/similar?limit=5").json()["items"]
    assert len(similar) == 5 and items[0] not in [s["id"] for s in similar]
    page = api.call("GET", f"/content/{listed[0]}", viewer).json()
    assert 0.5 <= page["predicted_rating"] <= 5.0

    # A rating moves the user's own list within seconds, without a retrain.
    assert (
        api.call("PUT", f"/content/{listed[0]}/rating", viewer, json={"score": 5}).status_code
        == 200
    )

    def refreshed() -> list | None:
        now = api.call("GET", "/recommendations?limit=10", viewer).json()["items"]
        return now if now and now[0]["reason"] == "Updated from your latest ratings" else None

    after: Any = wait_for(refreshed, timeout=60, what="the folded-in list")
    assert listed[0] not in [entry["content"]["id"] for entry in after]

    # A version worse than the live one on the guard figure is recorded, not activated.
    with Session(engine) as session:
        session.execute(
            update(RecModel)
            .where(RecModel.version == result["ranking"]["version"])
            .values(metrics={"ndcg@10": 0.999})
        )
        session.commit()
    again = api.call("POST", "/admin/retrain", ops, json={"algorithm": "ease"}).json()["job"]
    second = job_result(api, ops, again["id"])
    assert second["ranking"]["activated"] is False
    assert "is worse than" in second["ranking"]["decision"]
    models = api.call("GET", "/admin/models", ops).json()["items"]
    live = [m["version"] for m in models if m["active"] and m["purpose"] == "ranking"]
    assert live == [result["ranking"]["version"]]
    assert api.call("GET", "/recommendations", viewer).json()["model_version"] == live[0]
