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
        # A few list/delete requests per title: on `default`, so a deleted title's files
        # go within seconds instead of waiting behind transcodes on `media`.
        JobType("media.purge_title", "cbrtl.media.purge_title", "default"),
    )
}


# Job types whose state a title's document shows (its video's status).
SHOWN_ON_TITLE = frozenset({"media.transcode"})


def register(kind: JobType) -> JobType:
    """Add a job type at run time (plugins; the fault tests' poison jobs)."""
    JOB_TYPES[kind.name] = kind
    return kind


def job_type(name: str) -> JobType:
    try:
        return JOB_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown job type {name!r}") from None
