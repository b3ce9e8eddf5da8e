"""The jobs that change a title refresh its read model after their commit: the stats
recompute (a rating, or its deletion), run as a worker runs it."""

from __future__ import annotations

import json

import pytest

import tasks.ratings  # noqa: F401 - registers the task delivered here
from db.media_urls import MediaUrls
from db.read_models.sync import install_title_sync
from db.read_models.titles import TitleStore
from db.services import jobs, ratings
from db.settings import Settings
from tests.factories import make_content, make_user
from tests.integration.task_env import TaskEnv, deliver, scratch_engine, tasks_on  # noqa: F401


def stats_job(env: TaskEnv, content_id: int) -> None:
    with env.factory() as session:
        job = jobs.enqueue(
            session=session, type="ratings.recompute_stats", args={"content_id": content_id}
        )
        session.commit()
    deliver("cbrtl.ratings.recompute_stats", job.id)


@pytest.fixture
def store(tasks_on: TaskEnv, settings: Settings) -> TitleStore:  # noqa: F811 - the fixture
    """The scratch database's own platform: its title ids repeat those of other databases."""
    env = tasks_on
    scratch = settings.model_copy(
        update={"database_url": env.engine.url.render_as_string(hide_password=False)}
    )
    store = TitleStore(env.cache, MediaUrls(scratch, env.storage))
    install_title_sync(env.factory, store)
    return store


def test_the_stats_job_refreshes_the_title_after_its_commit(
    tasks_on: TaskEnv,  # noqa: F811 - the fixture
    store: TitleStore,
) -> None:
    env = tasks_on
    with env.factory() as session:
        item, viewer = make_content(session), make_user(session)
        session.commit()
        served = json.loads(store.documents(session, [item.id])[item.id])
        assert served["rating"] == {"average": None, "count": 0, "bayesian": None}
        ratings.rate(session=session, user_id=viewer.id, content_id=item.id, score=3.5)
        session.commit()
    stats_job(env, item.id)
    with env.factory() as session:
        served = json.loads(store.documents(session, [item.id])[item.id])
        assert (served["rating"]["count"], served["rating"]["average"]) == (1, 3.5)
        ratings.unrate(session=session, user_id=viewer.id, content_id=item.id)
        session.commit()
    stats_job(env, item.id)
    with env.factory() as session:
        served = json.loads(store.documents(session, [item.id])[item.id])
        assert served["rating"] == {"average": None, "count": 0, "bayesian": None}


def test_the_drain_refreshes_every_title_it_recomputed(
    tasks_on: TaskEnv,  # noqa: F811 - the fixture
    store: TitleStore,
) -> None:
    env = tasks_on
    with env.factory() as session:
        items, viewer = [make_content(session) for _ in range(3)], make_user(session)
        session.commit()
        assert len(store.documents(session, [i.id for i in items])) == 3  # cached unrated
        drains = {
            ratings.rate(session=session, user_id=viewer.id, content_id=i.id, score=s).job.id
            for i, s in zip(items, (1.0, 2.5, 4.0), strict=True)
        }
        session.commit()
    assert len(drains) == 1  # three titles, one job
    deliver("cbrtl.ratings.recompute_stats", drains.pop())
    with env.factory() as session:
        served = store.documents(session, [i.id for i in items])
        seen = [json.loads(served[i.id])["rating"]["average"] for i in items]
        assert seen == [1.0, 2.5, 4.0]
