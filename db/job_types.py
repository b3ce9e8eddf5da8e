"""Which task runs a job type, and on which queue. Web, relay and workers share it."""

from __future__ import annotations

from dataclasses import dataclass

QUEUES = ("ratings", "ml", "media", "default")


@dataclass(frozen=True)
class JobType:
    name: str
    task: str
    queue: str


JOB_TYPES: dict[str, JobType] = {
    jt.name: jt
    for jt in (
        JobType("ratings.recompute_stats", "cbrtl.ratings.recompute_stats", "ratings"),
        JobType("trending.refresh", "cbrtl.trending.refresh", "default"),
        JobType("recommender.retrain", "cbrtl.recommender.retrain", "ml"),
        JobType("recommender.refresh_user", "cbrtl.recommender.refresh_user", "ml"),
        JobType("media.transcode", "cbrtl.media.transcode", "media"),
        JobType("media.expire_uploads", "cbrtl.media.expire_uploads", "default"),
    )
}


def job_type(name: str) -> JobType:
    try:
        return JOB_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown job type {name!r}") from None
