"""Rating aggregation on the `ratings` queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.read_models.sync import mark_changed
from db.services import ratings, refresh_backlog, stats_backlog
from tasks.context import prior_mean
from tasks.job_runner import job_task


@job_task("ratings.recompute_stats", soft_time_limit=30, time_limit=60)
def recompute_stats(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    """One title's stats (`content_id`), or, as the rating writes queue it, a batch of
    the titles they marked (db/services/stats_backlog.py)."""
    if "content_id" not in args:
        titles = stats_backlog.drain(session=session, prior_mean=prior_mean())
        mark_changed(session, titles)  # the titles' documents carry their stats
        # The ratings that marked these titles may have marked their viewers' lists too.
        lists = refresh_backlog.queue_if_marked(session=session)
        return {"titles": len(titles), "lists_queued": lists is not None}
    content_id = int(args["content_id"])
    outcome = ratings.recompute_stats(
        session=session, content_id=content_id, prior_mean=prior_mean()
    )
    mark_changed(session, [content_id])
    return outcome
