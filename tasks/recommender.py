"""Recommender jobs on the ml queue: retrain everything, refresh the marked viewers' lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.errors import InvalidInput
from db.services import recommender, refresh_backlog
from db.services.refresh_backlog import Batch
from tasks.job_runner import job_task, long_job_task
from tasks.recommender_io import (
    load_interactions,
    publish_rating_model,
    publish_top_n,
    refresh_lists,
    save_versions,
)
from workers.recommender import pipeline

MIN_RATINGS = 20


# Below RabbitMQ's default 30-minute consumer timeout (late acks).
@long_job_task("recommender.retrain", soft_time_limit=1620, time_limit=1740)
def retrain(job_id: int, args: dict[str, Any], progress: Any) -> dict[str, Any]:
    data = load_interactions()
    if len(data) < MIN_RATINGS:
        raise InvalidInput(f"Only {len(data)} ratings: at least {MIN_RATINGS} are needed to train.")
    progress(0.05)
    trained = pipeline.train(
        data,
        algorithm=args.get("algorithm", "auto"),
        params=args.get("params", {}),
        progress=progress,
    )
    outcome = save_versions(job_id, data, trained, force=bool(args.get("force")))
    for model in trained:
        version = outcome[model.purpose]["version"]
        if outcome[model.purpose]["activated"] and model.purpose == "ranking":
            outcome["ranking"]["lists"] = publish_top_n(version, data, model.model)
        elif outcome[model.purpose]["activated"]:
            publish_rating_model(version, data, model.model)
    return outcome


@job_task("recommender.refresh_user", soft_time_limit=60, time_limit=90)
def refresh_user(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    """The list drain (args {}: a batch of the viewers ratings marked), or one viewer's
    refresh ({"user_id": id}, as jobs queued before the drain ask)."""
    if "user_id" in args:
        batch, named = Batch([int(args["user_id"])], []), {"user_id": int(args["user_id"])}
    else:
        batch, named = refresh_backlog.take(session=session), {}
    active = recommender.active_models(session=session)
    done = (refresh_lists(session, batch.users, active) if active
            else {"users": len(batch.users), "skipped": "no active model"})  # fmt: skip
    refresh_backlog.settle(session=session, batch=batch)
    return {**named, **done}
