"""Rating aggregation on the `ratings` queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.services import ratings
from tasks.context import prior_mean
from tasks.job_runner import job_task


@job_task("ratings.recompute_stats", soft_time_limit=30, time_limit=60)
def recompute_stats(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    return ratings.recompute_stats(
        session=session, content_id=int(args["content_id"]), prior_mean=prior_mean()
    )
