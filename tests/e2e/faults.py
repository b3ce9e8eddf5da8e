"""Shared parts of the fault tests: enqueueing through a platform's outbox, checking
that stats equal a fresh GROUP BY, and recording the figures of each run."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from db.broker import CeleryPublisher
from db.engine import make_session_factory
from db.models import Job
from db.services import jobs
from db.settings import Settings
from tests.e2e.processes import Platform

# docs/RELIABILITY.md quotes the figures of the last run from here.
REPORT = Path(
    os.environ.get("CBRTL_FAULT_REPORT", Path(__file__).parents[2] / "var" / "faults.jsonl")
)


def record(test: str, **figures: Any) -> None:
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    line = {"test": test, "at": datetime.now(UTC).isoformat(timespec="seconds"), **figures}
    with REPORT.open("a") as out:
        out.write(json.dumps(line) + "\n")


def enqueue(platform: Platform, engine: Engine, job_type: str, *, max_attempts: int = 3) -> int:
    """Write a job row and publish it after commit, as the web does."""
    settings = Settings(
        database_url=platform.env["CBRTL_DATABASE_URL"],
        broker_url=platform.env["CBRTL_BROKER_URL"],
    )
    factory = make_session_factory(engine, publisher=CeleryPublisher(settings))
    with factory() as session:
        job = jobs.enqueue(session=session, type=job_type, args={}, max_attempts=max_attempts)
        session.commit()
        return job.id


def job(engine: Engine, job_id: int) -> Job:
    with Session(engine) as session:
        found = session.get(Job, job_id)
        assert found is not None
        session.expunge(found)
        return found


def stats_mismatches(engine: Engine) -> int:
    """Titles whose stored stats differ from a fresh GROUP BY over the ratings."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM content_stats s LEFT JOIN ("
                    "  SELECT content_id, count(*) AS n, avg(score) AS mean FROM ratings"
                    "  GROUP BY content_id) r ON r.content_id = s.content_id "
                    "WHERE s.rating_count <> coalesce(r.n, 0)"
                    "   OR abs(coalesce(s.rating_mean, 0) - coalesce(r.mean, 0)) > 1e-9"
                )
            ).scalar_one()
        )


def unfinished_jobs(engine: Engine, job_type: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM jobs WHERE type = :t AND status <> 'succeeded'"),
                {"t": job_type},
            ).scalar_one()
        )
