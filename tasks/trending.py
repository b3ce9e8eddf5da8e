"""Trending lists, recomputed on a schedule (beat enqueues the job)."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from db import trending_cache
from db.after_commit import call_after_commit
from db.models.base import utcnow
from db.services import trending
from tasks.context import cache_client
from tasks.job_runner import job_task
from workers.trending import decayed_scores

LIST_LENGTH = 100


@job_task("trending.refresh", soft_time_limit=120, time_limit=180)
def refresh_trending(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    result: dict[str, Any] = {}
    for window in trending.WINDOWS.values():
        events = trending.recent_events(session=session, since=now - window.span, now=now)
        columns = np.array(events, dtype=np.float64).reshape(-1, 3)
        ranked = decayed_scores(
            columns[:, 0].astype(np.int64),
            columns[:, 1],
            columns[:, 2],
            half_life_s=window.half_life.total_seconds(),
            limit=LIST_LENGTH,
        )
        trending.store(session=session, window=window.name, ranked=ranked)
        ids = [item for item, _ in ranked]
        call_after_commit(session, partial(trending_cache.write, cache_client(), window.name, ids))
        result[window.name] = {"events": len(events), "items": len(ranked)}
    return result
