"""The list refresh (recommender.refresh_user: the drain of the viewers ratings marked,
or one viewer) on PostgreSQL and Redis, with real models trained on the test's ratings,
against the straightforward computation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.testing as npt
import pytest
import redis
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from db import recs_cache
from db.models import (
    Content,
    Job,
    Rating,
    RatingFactors,
    RecModel,
    Recommendation,
    RefreshPending,
    User,
)
from db.services import ratings, recommender, refresh_backlog
from db.services.recommender import Recommended, pack, unpack
from tasks import recommender_io
from tasks.recommender import refresh_user
from tests.factories import make_content, make_user
from workers.recommender.data import Interactions
from workers.recommender.ease import EASE
from workers.recommender.svd import SVDRatings

REASON = "Updated from your latest ratings"


@dataclass
class Trained:
    users: list[int]
    titles: list[int]
    ease: EASE
    svd: SVDRatings
    data: Interactions
    versions: dict[str, int]


@pytest.fixture
def cache(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    keys = list(client.scan_iter(recs_cache.KEY.format("*")))
    if keys:
        client.delete(*keys)
    client.close()


def version(session: Session, purpose: str, *, active: bool = True) -> int:
    row = recommender.record_model(
        session=session,
        purpose=purpose,
        algorithm="ease" if purpose == "ranking" else "svd",
        params={},
        metrics={},
        artifact_key=f"models/test/{purpose}.npz",
        trained_ratings=0,
        job_id=None,
    )
    if active:
        recommender.activate(session=session, version=row.version, decision="test")
    return row.version


@pytest.fixture
def trained(db_session: Session, cache: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> Trained:
    """8 users who rated 25 of 80 titles each, and both models fitted on that."""
    rng = np.random.default_rng(11)
    users = [make_user(db_session).id for _ in range(8)]
    titles = [make_content(db_session).id for _ in range(80)]
    triples = [
        (user, title, float(rng.integers(1, 11) / 2))
        for user in users
        for title in rng.choice(titles, 25, replace=False).tolist()
    ]
    # In bulk: the rating service's per-rating jobs are not what these tests are about.
    db_session.execute(
        insert(Rating), [{"user_id": u, "content_id": c, "score": s} for u, c, s in triples]
    )
    data = Interactions.from_arrays(*zip(*triples, strict=True))
    ease, svd = EASE(l2=5.0), SVDRatings(n_factors=6, n_epochs=10)
    ease.fit(data)
    svd.fit(data)
    models: dict[str, Any] = {"ranking": ease, "rating": svd}
    monkeypatch.setattr(
        recommender_io, "load_model", lambda row: (models[row.purpose], data.users, data.items)
    )
    monkeypatch.setattr(recommender_io, "cache_client", lambda: cache)
    versions = {p: version(db_session, p) for p in models}
    db_session.flush()
    return Trained(users, titles, ease, svd, data, versions)


def reference_list(t: Trained, rated: dict[int, float]) -> list[int]:
    """Today's ranking written out: the rated items' weight rows summed, a full sort."""
    known = set(t.data.items.tolist())
    rows = [int(np.searchsorted(t.data.items, c)) for c in rated if c in known]
    scores = np.zeros(t.data.n_items, np.float32)
    for row in set(rows):
        scores += t.ease.weights[row]
    scores[rows] = -np.inf
    best = [int(i) for i in np.argsort(-scores, kind="stable")[:50] if np.isfinite(scores[i])]
    return [int(t.data.items[i]) for i in best]


def scored(session: Session, user_id: int) -> dict[int, float]:
    return ratings.scores_for_users(session=session, user_ids=[user_id])[user_id]


def stored(session: Session, user_id: int) -> list[tuple[int, float, str, int | None]]:
    rows = session.execute(
        select(
            Recommendation.content_id,
            Recommendation.score,
            Recommendation.reason,
            Recommendation.model_version,
        )
        .where(Recommendation.user_id == user_id)
        .order_by(Recommendation.rank)
    )
    return [tuple(r) for r in rows]


def factors(session: Session, version: int, user_id: int) -> list[tuple[float, bytes]]:
    rows = session.execute(
        select(RatingFactors.bias, RatingFactors.vector).where(
            RatingFactors.model_version == version,
            RatingFactors.kind == "user",
            RatingFactors.entity_id == user_id,
        )
    )
    return [tuple(r) for r in rows]


def test_refresh_writes_the_reference_list_to_the_database_and_redis(
    db_session: Session, trained: Trained, cache: redis.Redis
) -> None:
    user, other = trained.users[0], trained.users[1]
    recommender.replace_recommendations(
        session=db_session,
        model_version=trained.versions["ranking"],
        lists=[
            Recommended(u, trained.titles[:60], [1.0] * 60, ["old"] * 60) for u in (user, other)
        ],
        every_user=True,
    )
    ratings.rate(session=db_session, user_id=user, content_id=trained.titles[0], score=5.0)
    rated = scored(db_session, user)

    result = refresh_user(db_session, {"user_id": user})
    db_session.commit()

    expected = reference_list(trained, rated)
    assert len(expected) == 50 and not set(expected) & set(rated)
    assert result == {"user_id": user, "users": 1, "rated": len(rated), "items": 50}
    rows = stored(db_session, user)
    assert [r[0] for r in rows] == expected
    assert {(r[2], r[3]) for r in rows} == {(REASON, trained.versions["ranking"])}
    assert len(stored(db_session, other)) == 60  # another viewer's list stands
    doc = recs_cache.read(cache, user)
    assert doc is not None and set(doc) == {"model_version", "generated_at", "items"}
    assert doc["model_version"] == trained.versions["ranking"]
    assert [item[0] for item in doc["items"]] == expected
    assert all(item[2] == REASON for item in doc["items"])
    npt.assert_allclose([item[1] for item in doc["items"]], [r[1] for r in rows], rtol=1e-6)


def test_refresh_folds_the_ratings_into_the_rating_model(
    db_session: Session, trained: Trained
) -> None:
    user, rating_version = trained.users[2], trained.versions["rating"]
    recommender.store_factors(
        session=db_session, model_version=rating_version, rows=[("user", user, 9.0, pack([0.0]))]
    )
    refresh_user(db_session, {"user_id": user})

    rated = scored(db_session, user)
    rows = np.searchsorted(trained.data.items, list(rated))
    bias, vector = trained.svd.fold_in(rows, list(rated.values()))
    (row,) = factors(db_session, rating_version, user)  # replaced, not added
    assert row[0] == pytest.approx(bias)
    npt.assert_allclose(unpack(row[1]), vector, rtol=1e-6)


def test_a_viewer_the_models_never_saw_gets_a_list_and_factors(
    db_session: Session, trained: Trained
) -> None:
    newcomer = make_user(db_session).id
    unknown = make_content(db_session).id  # created after training
    for title, score in ((trained.titles[3], 4.5), (trained.titles[4], 2.0), (unknown, 5.0)):
        ratings.rate(session=db_session, user_id=newcomer, content_id=title, score=score)

    result = refresh_user(db_session, {"user_id": newcomer})

    rated = scored(db_session, newcomer)
    ids = [r[0] for r in stored(db_session, newcomer)]
    assert result["rated"] == 3 and ids == reference_list(trained, rated)
    assert len(ids) == 50 and not set(ids) & set(rated)
    assert len(factors(db_session, trained.versions["rating"], newcomer)) == 1


def marked(session: Session) -> list[int]:
    return sorted(session.scalars(select(RefreshPending.user_id)))


def drains(session: Session) -> list[tuple[dict[str, Any], str | None, str]]:
    rows = session.execute(
        select(Job.args, Job.dedup_key, Job.status).where(Job.type == "recommender.refresh_user")
    )
    return [tuple(r) for r in rows]


def test_one_drain_refreshes_every_viewer_the_ratings_marked(
    db_session: Session, trained: Trained, cache: redis.Redis
) -> None:
    viewers, bystander = trained.users[:3], trained.users[3]
    for n, user in enumerate(viewers):
        ratings.rate(session=db_session, user_id=user, content_id=trained.titles[n], score=4.5)
    ratings.rate(session=db_session, user_id=viewers[0], content_id=trained.titles[9], score=1)
    assert marked(db_session) == sorted(viewers)
    assert drains(db_session) == []  # the ratings joined the stats drain only
    # The stats drain they joined queues the list drain (tasks/ratings.py).
    assert refresh_backlog.queue_if_marked(session=db_session) is not None
    assert drains(db_session) == [({}, "recs:pending", "queued")]  # one job for them all

    result = refresh_user(db_session, {})
    db_session.commit()

    rated = {user: scored(db_session, user) for user in viewers}
    assert result == {"users": 3, "rated": sum(map(len, rated.values())), "items": 150}
    assert marked(db_session) == []
    for user in viewers:
        expected = reference_list(trained, rated[user])
        assert [r[0] for r in stored(db_session, user)] == expected
        doc = recs_cache.read(cache, user)
        assert doc is not None and [item[0] for item in doc["items"]] == expected
        rows = np.searchsorted(trained.data.items, list(rated[user]))
        bias, vector = trained.svd.fold_in(rows, list(rated[user].values()))
        (row,) = factors(db_session, trained.versions["rating"], user)
        assert row[0] == pytest.approx(bias)
        npt.assert_allclose(unpack(row[1]), vector, rtol=1e-6)
    assert stored(db_session, bystander) == [] and recs_cache.read(cache, bystander) is None
    assert refresh_backlog.queue_if_marked(session=db_session) is None  # nobody marked


def test_a_mark_stamped_while_the_drain_works_stays_for_the_next(
    db_session: Session, trained: Trained
) -> None:
    early, late = sorted(trained.users[:2])
    for user in (early, late):
        refresh_backlog.mark(session=db_session, user_id=user)
    batch = refresh_backlog.take(session=db_session)
    assert batch.users == [early, late] and marked(db_session) == [early, late]  # not removed
    refresh_backlog.mark(session=db_session, user_id=late)  # a rating meanwhile
    refresh_backlog.settle(session=db_session, batch=batch)
    assert marked(db_session) == [late]


def test_a_full_batch_leaves_the_rest_to_the_next_drain(
    db_session: Session, trained: Trained
) -> None:
    viewers = sorted(trained.users[:3])
    for user in viewers:
        refresh_backlog.mark(session=db_session, user_id=user)
    batch = refresh_backlog.take(session=db_session, limit=2)
    assert batch.users == viewers[:2]
    refresh_backlog.settle(session=db_session, batch=batch, limit=2)
    assert marked(db_session) == viewers[2:]
    assert drains(db_session) == [({}, "recs:pending", "queued")]
    batch = refresh_backlog.take(session=db_session, limit=2)
    assert batch.users == viewers[2:]
    refresh_backlog.settle(session=db_session, batch=batch, limit=2)
    assert marked(db_session) == [] and len(drains(db_session)) == 1  # not full: no more


def test_a_deleted_viewer_is_dropped_and_a_deleted_title_not_listed(
    db_session: Session, trained: Trained
) -> None:
    gone, kept = trained.users[3], trained.users[4]
    for user in (gone, kept):
        refresh_backlog.mark(session=db_session, user_id=user)
    expected = reference_list(trained, scored(db_session, kept))
    db_session.execute(delete(User).where(User.id == gone))
    db_session.execute(delete(Content).where(Content.id == expected[0]))

    result = refresh_user(db_session, {})

    assert (result["users"], result["items"]) == (1, 49)
    assert [r[0] for r in stored(db_session, kept)] == expected[1:]
    assert marked(db_session) == []


def test_without_a_live_model_the_drain_drops_its_marks(
    db_session: Session, trained: Trained
) -> None:
    for user in trained.users[:2]:
        refresh_backlog.mark(session=db_session, user_id=user)
    deactivate(db_session, "ranking")
    deactivate(db_session, "rating")

    assert refresh_user(db_session, {}) == {"users": 2, "skipped": "no active model"}
    assert marked(db_session) == [] and stored(db_session, trained.users[0]) == []
    assert refresh_user(db_session, {}) == {"users": 0, "skipped": "no active model"}


def deactivate(session: Session, purpose: str) -> None:
    session.execute(update(RecModel).where(RecModel.purpose == purpose).values(active=False))


def test_with_only_the_rating_model_live_no_list_is_written(
    db_session: Session, trained: Trained
) -> None:
    deactivate(db_session, "ranking")
    user = trained.users[5]

    result = refresh_user(db_session, {"user_id": user})

    assert "items" not in result and stored(db_session, user) == []
    assert len(factors(db_session, trained.versions["rating"], user)) == 1


def test_with_only_the_ranking_model_live_no_factors_are_written(
    db_session: Session, trained: Trained
) -> None:
    deactivate(db_session, "rating")
    user = trained.users[6]

    assert refresh_user(db_session, {"user_id": user})["items"] == 50
    assert factors(db_session, trained.versions["rating"], user) == []


def test_without_a_live_model_the_refresh_is_skipped(
    db_session: Session, trained: Trained, cache: redis.Redis
) -> None:
    deactivate(db_session, "ranking")
    deactivate(db_session, "rating")
    user = trained.users[7]

    assert refresh_user(db_session, {"user_id": user}) == {
        "user_id": user,
        "users": 1,
        "skipped": "no active model",
    }
    db_session.commit()
    assert stored(db_session, user) == [] and recs_cache.read(cache, user) is None


def test_the_refresh_writes_work_on_the_embedded_sqlite(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        user, title = make_user(session).id, make_content(session).id
        live = version(session, "rating")
        for bias in (1.0, 2.0):  # the first inserts, the second replaces
            recommender.replace_user_factors(
                session=session, model_version=live, users=[(user, bias, pack([bias]))]
            )
        for score in (1.0, 2.0):
            recommender.replace_recommendations(
                session=session,
                model_version=None,
                lists=[Recommended(user, [title], [score], [REASON])],
                every_user=False,
            )
        for _ in range(2):  # the second mark of the same viewer changes nothing
            refresh_backlog.mark(session=session, user_id=user)
        session.commit()
        assert refresh_backlog.take(session=session).users == [user]
        assert factors(session, live, user) == [(2.0, pack([2.0]))]
        assert stored(session, user) == [(title, 2.0, REASON, None)]


def test_lists_without_a_model_version_and_long_reasons_on_postgresql(
    db_session: Session,
) -> None:
    user, titles = make_user(db_session).id, [make_content(db_session).id for _ in range(3)]
    db_session.flush()
    written = recommender.replace_recommendations(
        session=db_session,
        model_version=None,
        lists=[Recommended(user, titles, [3.0, 2.0, 1.0], ["x" * 250, "b", "c"])],
        every_user=False,
    )
    assert written == 3
    assert stored(db_session, user) == [
        (titles[0], 3.0, "x" * 200, None), (titles[1], 2.0, "b", None), (titles[2], 1.0, "c", None)
    ]  # fmt: skip
