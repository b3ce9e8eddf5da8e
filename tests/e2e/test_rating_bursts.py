"""Bursts of ratings over HTTP end with stats equal to a GROUP BY; redelivery changes nothing."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from kombu import Connection
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.broker import CeleryPublisher
from db.engine import make_engine
from db.models import ContentStats, Job, Rating
from db.settings import Settings
from tests.e2e.processes import Api, Platform
from tests.factories import PASSWORD, make_content, make_user
from tests.services import wait_for

USERS = 30
ITEMS = 12


@pytest.fixture
def engine(on_services: Platform) -> Iterator[Engine]:
    engine = make_engine(on_services.env["CBRTL_DATABASE_URL"])
    yield engine
    engine.dispose()


def drained(engine: Engine) -> bool:
    with Session(engine) as session:
        busy = session.scalar(
            select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running")))
        )
        return busy == 0


def stats_match_group_by(engine: Engine) -> list[tuple[int, int, float | None]]:
    """The rows where the stored stats differ from the ratings table (empty is good)."""
    with Session(engine) as session:
        truth = {
            c: (n, m)
            for c, n, m in session.execute(
                select(Rating.content_id, func.count(), func.avg(Rating.score)).group_by(
                    Rating.content_id
                )
            )
        }
        wrong = []
        for stats in session.scalars(select(ContentStats)):
            count, mean = truth.get(stats.content_id, (0, None))
            same_mean = (mean is None and stats.rating_mean is None) or (
                mean is not None
                and stats.rating_mean is not None
                and abs(float(mean) - stats.rating_mean) < 1e-9
            )
            if stats.rating_count != count or not same_mean:
                wrong.append((stats.content_id, stats.rating_count, stats.rating_mean))
        return wrong


def test_bursts_end_equal_to_group_by(on_services: Platform, engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        users = [make_user(session) for _ in range(USERS)]
        items = [make_content(session) for _ in range(ITEMS)]
        session.commit()
    on_services.start_web()
    on_services.start_worker()
    on_services.start_worker()
    api = Api(on_services.base_url)
    tokens = [api.token(u.email, PASSWORD) for u in users]
    rng = random.Random(7)

    def rate(token: str, item_id: int) -> int:
        score = rng.choice([0.5 * k for k in range(1, 11)])
        return (
            Api(on_services.base_url)
            .call("PUT", f"/content/{item_id}/rating", token, json={"score": score})
            .status_code
        )

    many_users_one_item = [(t, items[0].id) for t in tokens for _ in range(3)]
    one_user_many_items = [(tokens[0], i.id) for i in items for _ in range(3)]
    mixed = [(rng.choice(tokens), rng.choice(items).id) for _ in range(120)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        for burst in (many_users_one_item, one_user_many_items, mixed):
            assert set(pool.map(lambda pair: rate(*pair), burst)) == {200}

    wait_for(lambda: drained(engine), timeout=120, what="the ratings queue to drain")
    assert stats_match_group_by(engine) == []
    with Session(engine) as session:
        statuses = set(session.scalars(select(Job.status).distinct()))
        drains = session.scalar(select(func.count()).where(Job.type == "ratings.recompute_stats"))
    assert statuses == {"succeeded"}
    # The bursts coalesced, over one title and over many: far fewer drains than ratings.
    rated = len(many_users_one_item) + len(one_user_many_items) + len(mixed)
    assert drains is not None and drains < rated / 3, (drains, rated)


def test_duplicate_delivery_changes_nothing(on_services: Platform, engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        user = make_user(session)
        item = make_content(session)
        session.commit()
    on_services.start_web()
    worker = on_services.start_worker()
    api = Api(on_services.base_url)
    token = api.token(user.email, PASSWORD)
    assert (
        api.call("PUT", f"/content/{item.id}/rating", token, json={"score": 2.5}).status_code == 200
    )
    wait_for(lambda: drained(engine), timeout=60, what="the first recompute")
    with Session(engine) as session:
        job = session.scalars(select(Job)).one()
        before = (job.status, job.attempts, job.finished_at)
        stats_before = session.get(ContentStats, item.id).updated_at

    settings = Settings(broker_url=on_services.env["CBRTL_BROKER_URL"])
    publisher = CeleryPublisher(settings)
    for _ in range(3):
        publisher.publish(job_id=job.id, task="cbrtl.ratings.recompute_stats", queue="ratings")

    def queue_empty_and_seen() -> bool:
        with Connection(on_services.env["CBRTL_BROKER_URL"]) as conn:
            depth = conn.default_channel.queue_declare("ratings", passive=True).message_count
        return (
            depth == 0
            and worker.log.read_text().count("finished, running elsewhere or given up") >= 3
        )

    wait_for(queue_empty_and_seen, timeout=60, what="the duplicates to be consumed")
    with Session(engine) as session:
        again = session.get(Job, job.id)
        assert (again.status, again.attempts, again.finished_at) == before
        assert session.get(ContentStats, item.id).updated_at == stats_before
    assert stats_match_group_by(engine) == []
