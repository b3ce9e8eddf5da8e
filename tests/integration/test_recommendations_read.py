"""What /recommendations and /similar serve before and after a model exists."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from db.services import preferences, ratings, recommender
from db.services.recommender import Recommended
from tests.auth import login
from tests.factories import make_content, make_user


def rate(session: Session, item, score: float, times: int = 1) -> None:
    for _ in range(times):
        ratings.rate(
            session=session, user_id=make_user(session).id, content_id=item.id, score=score
        )
    ratings.recompute_stats(session=session, content_id=item.id)


def test_cold_start_uses_preferences_then_best_rated(
    client: FlaskClient, db_session: Session
) -> None:
    horror = make_content(db_session, genres=["Horror"])
    drama = make_content(db_session, genres=["Drama"])
    rate(db_session, horror, 3.0, 2)
    rate(db_session, drama, 5.0, 2)
    user = make_user(db_session)
    preferences.set_genres(session=db_session, user_id=user.id, names=["Horror"])
    doc = client.get("/api/v1/recommendations", headers=login(client, user.email)).json
    assert doc["model_version"] is None
    assert [(i["content"]["id"], i["reason"]) for i in doc["items"]][:2] == [
        (horror.id, "Popular in Horror, a genre you like"),
        (drama.id, "Highly rated on cbrtl"),
    ]


def test_stored_lists_hide_rated_items_and_give_new_titles_a_place(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session)
    picks = [make_content(db_session) for _ in range(5)]
    for item in picks:
        rate(db_session, item, 4.0)
    version = recommender.record_model(
        session=db_session,
        purpose="ranking",
        algorithm="ease",
        params={},
        metrics={},
        artifact_key="x",
        trained_ratings=5,
        job_id=None,
    ).version
    recommender.replace_recommendations(
        session=db_session,
        model_version=version,
        every_user=True,
        lists=[Recommended(user.id, [p.id for p in picks], [5, 4, 3, 2, 1], ["r"] * 5)],
    )
    ratings.rate(session=db_session, user_id=user.id, content_id=picks[0].id, score=2)
    brand_new = make_content(db_session)
    doc = client.get("/api/v1/recommendations?limit=4", headers=login(client, user.email)).json
    ids = [i["content"]["id"] for i in doc["items"]]
    assert doc["model_version"] == version
    assert ids == [picks[1].id, picks[2].id, brand_new.id, picks[3].id]
    assert doc["items"][2]["reason"] == "New on cbrtl"


def test_recommendations_need_sign_in_and_a_sane_limit(
    client: FlaskClient, db_session: Session
) -> None:
    assert client.get("/api/v1/recommendations").status_code == 401
    headers = login(client, make_user(db_session).email)
    assert client.get("/api/v1/recommendations?limit=0", headers=headers).status_code == 422


def test_similar_falls_back_to_the_genre_then_uses_the_model(
    client: FlaskClient, db_session: Session
) -> None:
    alien = make_content(db_session, genres=["Sci-Fi"])
    aliens = make_content(db_session, genres=["Sci-Fi"])
    heat = make_content(db_session, genres=["Crime"])
    rate(db_session, aliens, 4.0)
    assert [i["id"] for i in client.get(f"/api/v1/content/{alien.id}/similar").json["items"]] == [
        aliens.id
    ]
    version = recommender.record_model(
        session=db_session,
        purpose="ranking",
        algorithm="ease",
        params={},
        metrics={},
        artifact_key="x",
        trained_ratings=1,
        job_id=None,
    ).version
    recommender.replace_similar(
        session=db_session, model_version=version, rows=[(alien.id, 1, heat.id, 0.9)]
    )
    assert [i["id"] for i in client.get(f"/api/v1/content/{alien.id}/similar").json["items"]] == [
        heat.id
    ]
    assert client.get("/api/v1/content/987654/similar").status_code == 404
