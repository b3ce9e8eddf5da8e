"""Jobs write Redis only after their transaction commits: a job cancelled while its body
runs (so the runner rolls it back) leaves the cache as it was; a committed one writes it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

import tasks.trending
from db import recs_cache, trending_cache
from db.models import Job, RefreshPending, Trending
from db.services import jobs, ratings, refresh_backlog
from tasks import recommender_io
from tests.factories import make_content, make_live_model, make_user
from tests.integration.task_env import TaskEnv, deliver, scratch_engine, tasks_on  # noqa: F401

WINDOW_KEYS = [trending_cache.KEY.format(w) for w in ("day", "week")]


@pytest.fixture(autouse=True)
def clean_cache(tasks_on: TaskEnv) -> Iterator[None]:  # noqa: F811
    """The scratch database's ids repeat in other tests' databases: leave no key behind."""
    cache = tasks_on.cache

    def ours() -> list[Any]:
        return [*WINDOW_KEYS, *cache.scan_iter(recs_cache.KEY.format("*"))]

    cache.delete(*ours())
    yield
    cache.delete(*ours())


def enqueue(env: TaskEnv, job_type: str, args: dict[str, Any]) -> int:
    with env.factory() as session:
        job = jobs.enqueue(session=session, type=job_type, args=args)
        session.commit()
        return job.id


def job_row(env: TaskEnv, job_id: int) -> Job:
    with env.factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def trending_rows(env: TaskEnv) -> list[tuple[str, int, int]]:
    with env.factory() as session:
        rows = session.execute(select(Trending.window, Trending.rank, Trending.content_id))
        return sorted(tuple(row) for row in rows)


def cancelled_on_first_call(env: TaskEnv, job_id: int, step: Callable[..., Any]) -> Any:
    """`step`, which first has an operator cancel the job (once), from another session."""
    done: list[bool] = []

    def cancelling(*args: Any, **kwargs: Any) -> Any:
        if not done:
            with env.factory() as session:
                jobs.cancel(session=session, job_id=job_id)
                session.commit()
            done.append(True)
        return step(*args, **kwargs)

    return cancelling


def test_trending_cancelled_meanwhile_leaves_redis_untouched(
    tasks_on: TaskEnv,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = tasks_on
    with env.factory() as session:
        item = make_content(session)
        ratings.rate(session=session, user_id=make_user(session).id, content_id=item.id, score=4)
        session.commit()
    env.cache.delete(*WINDOW_KEYS)
    before = trending_rows(env)
    job_id = enqueue(env, "trending.refresh", {})
    monkeypatch.setattr(
        tasks.trending,
        "decayed_scores",
        cancelled_on_first_call(env, job_id, tasks.trending.decayed_scores),
    )

    deliver("cbrtl.trending.refresh", job_id)

    assert (job_row(env, job_id).status, job_row(env, job_id).error) == ("failed", jobs.CANCELLED)
    assert env.cache.exists(*WINDOW_KEYS) == 0  # Redis is not ahead of the database
    assert trending_rows(env) == before  # nor is the database: the body rolled back


def test_trending_committed_writes_redis(tasks_on: TaskEnv) -> None:  # noqa: F811
    env = tasks_on
    with env.factory() as session:
        item = make_content(session)
        ratings.rate(session=session, user_id=make_user(session).id, content_id=item.id, score=4)
        session.commit()
    env.cache.delete(*WINDOW_KEYS)
    job_id = enqueue(env, "trending.refresh", {})

    deliver("cbrtl.trending.refresh", job_id)

    assert job_row(env, job_id).status == "succeeded"
    assert trending_cache.read(env.cache, "day") is not None
    assert item.id in (trending_cache.read(env.cache, "week") or [])


class Ranking:
    """A ranking model whose fold-in scores every title by its position."""

    def __init__(self, n_items: int) -> None:
        self.n_items = n_items

    def fold_in_many(self, rated: Any) -> Any:
        return np.tile(np.arange(self.n_items, dtype=np.float32), (len(rated), 1))


def ranking_model(env: TaskEnv) -> tuple[int, list[int]]:
    """A user with a rating, three titles and an active ranking version (a fake model)."""
    with env.factory() as session:
        user = make_user(session)
        items = [make_content(session).id for _ in range(3)]
        ratings.rate(session=session, user_id=user.id, content_id=items[0], score=5)
        make_live_model(session)
        session.commit()
        return user.id, items


def fake_loading(items: list[int]) -> Callable[[Any], Any]:
    ids = np.array(sorted(items), dtype=np.int64)
    return lambda _row: (Ranking(len(ids)), np.array([], dtype=np.int64), ids)


def queued_refresh(env: TaskEnv) -> tuple[int, list[int], int]:
    """(user, titles, job): the list drain queued for a marked user with a clean cache."""
    user_id, items = ranking_model(env)
    env.cache.delete(recs_cache.KEY.format(user_id))
    with env.factory() as session:
        refresh_backlog.mark(session=session, user_id=user_id)
        session.commit()
    return user_id, items, enqueue(env, "recommender.refresh_user", {})


def still_marked(env: TaskEnv) -> list[int]:
    with env.factory() as session:
        return list(session.scalars(select(RefreshPending.user_id)))


def test_list_refresh_cancelled_meanwhile_leaves_redis_untouched(
    tasks_on: TaskEnv,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user_id, items, job_id = queued_refresh(tasks_on)
    loading = cancelled_on_first_call(tasks_on, job_id, fake_loading(items))
    monkeypatch.setattr(recommender_io, "load_model", loading)

    deliver("cbrtl.recommender.refresh_user", job_id)

    assert job_row(tasks_on, job_id).status == "failed"
    assert recs_cache.read(tasks_on.cache, user_id) is None
    assert still_marked(tasks_on) == [user_id]  # the drain's take rolled back with it


def test_list_refresh_committed_writes_redis(
    tasks_on: TaskEnv,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user_id, items, job_id = queued_refresh(tasks_on)
    monkeypatch.setattr(recommender_io, "load_model", fake_loading(items))

    deliver("cbrtl.recommender.refresh_user", job_id)

    assert job_row(tasks_on, job_id).status == "succeeded"
    assert still_marked(tasks_on) == []
    cached = recs_cache.read(tasks_on.cache, user_id)
    assert cached is not None
    assert [entry[0] for entry in cached["items"]] == sorted(items)[1:][::-1]
