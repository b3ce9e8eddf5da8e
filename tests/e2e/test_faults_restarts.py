"""Fault tests that restart a shared service (RabbitMQ, PostgreSQL) or kill a worker
mid-retrain. Bounded, loopback only; each states what it proves."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import RecModel
from tests.e2e.faults import job, record, stats_mismatches, unfinished_jobs
from tests.e2e.processes import Api, Platform
from tests.e2e.test_faults import seed
from tests.factories import PASSWORD
from tests.services import wait_for

# They stop and start the machine's PostgreSQL and RabbitMQ: nothing else may run meanwhile.
pytestmark = pytest.mark.serial

PG_VERSION = sorted(os.listdir("/etc/postgresql"))[-1] if Path("/etc/postgresql").is_dir() else ""


@pytest.fixture
def engine(on_services: Platform) -> Iterator[Engine]:
    engine = make_engine(on_services.env["CBRTL_DATABASE_URL"])
    yield engine
    engine.dispose()


class Rater(threading.Thread):
    """Keeps rating (user x title, round robin) and records every answer's status."""

    def __init__(self, api: Api, tokens: list[str], items: list[int]) -> None:
        super().__init__(daemon=True)
        self.api, self.tokens, self.items = api, tokens, items
        self.statuses: list[int] = []
        self.slowest_s = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            token = self.tokens[n % len(self.tokens)]
            item = self.items[(n // len(self.tokens)) % len(self.items)]
            started = time.monotonic()
            try:
                answer = self.api.call(
                    "PUT", f"/content/{item}/rating", token, json={"score": 0.5 + (n % 10) / 2}
                )
                self.statuses.append(answer.status_code)
            except Exception:  # a dropped connection counts as a failed request
                self.statuses.append(0)
            self.slowest_s = max(self.slowest_s, time.monotonic() - started)
            n += 1

    def accepted(self) -> int:
        return sum(1 for s in self.statuses if s == 200)

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=60)


def run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr


def start_rating(platform: Platform, engine: Engine) -> Rater:
    emails, items = seed(engine, users=6, titles=4)
    platform.start_web()
    platform.start_worker("ratings,default")
    platform.start_beat()  # the relay sends what the outage left unpublished
    api = Api(platform.base_url)
    rater = Rater(api, [api.token(e, PASSWORD) for e in emails], items)
    rater.start()
    wait_for(lambda: rater.accepted() >= 20, timeout=60, what="ratings flowing")
    return rater


def settle(engine: Engine) -> tuple[int, int, int]:
    """Wait until every rating job finished; (submitted, completed, re-run)."""
    wait_for(
        lambda: (
            unfinished_jobs(engine, "ratings.recompute_stats") == 0
            and stats_mismatches(engine) == 0
        ),
        timeout=180,
        interval=1,
        what="every accepted rating aggregated",
    )
    with engine.connect() as conn:
        submitted, completed, reruns = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), "
                "count(*) FILTER (WHERE attempts > 1) FROM jobs "
                "WHERE type = 'ratings.recompute_stats'"
            )
        ).one()
    return int(submitted), int(completed), int(reruns)


def test_rabbitmq_restart_loses_no_rating(on_services: Platform, engine: Engine) -> None:
    """RabbitMQ stops and starts while ratings pour in: every accepted rating is
    aggregated (stats equal a GROUP BY), no request fails with a 500, and every job
    succeeds exactly once (its row is finished once; reruns are idempotent recomputes)."""
    rater = start_rating(on_services, engine)
    before = rater.accepted()
    run("rabbitmqctl", "stop_app")
    outage_started = len(rater.statuses)
    wait_for(
        lambda: len(rater.statuses) > outage_started + 5, timeout=60, what="calls in the outage"
    )
    run("rabbitmqctl", "start_app")
    run("rabbitmqctl", "await_startup")
    wait_for(lambda: rater.accepted() >= before + 40, timeout=120, what="ratings after the restart")
    rater.finish()

    assert [s for s in rater.statuses if s >= 500 or s == 0] == []
    submitted, completed, reruns = settle(engine)
    assert submitted == completed
    record(
        "rabbitmq_restart",
        ratings_accepted=rater.accepted(),
        requests_failed=0,
        slowest_request_s=round(rater.slowest_s, 2),
        jobs_submitted=submitted,
        jobs_completed=completed,
        jobs_rerun_after_the_outage=reruns,
        duplicates=0,
    )


def test_postgresql_restart_gives_503_then_recovers(on_services: Platform, engine: Engine) -> None:
    """PostgreSQL restarts under load: the API answers 503 with Retry-After (never 500)
    while it is away and recovers without a restart; tasks that lost their connection
    are retried and every accepted rating is aggregated."""
    rater = start_rating(on_services, engine)
    before = rater.accepted()
    run("pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", "restart")
    wait_for(lambda: rater.accepted() >= before + 40, timeout=120, what="ratings after the restart")
    rater.finish()

    unexpected = [s for s in rater.statuses if s not in (200, 503)]
    assert unexpected == []
    assert rater.statuses[-5:] == [200] * 5  # recovered, no restart of the web
    submitted, completed, reruns = settle(engine)
    assert submitted == completed
    record(
        "postgresql_restart",
        ratings_accepted=rater.accepted(),
        answered_503=rater.statuses.count(503),
        answered_500=0,
        jobs_submitted=submitted,
        jobs_completed=completed,
        jobs_retried=reruns,
    )


def test_worker_killed_mid_retrain_completes_once(on_services: Platform, engine: Engine) -> None:
    """The ml worker is SIGKILLed while training: RabbitMQ redelivers, the job runs again
    and succeeds, and exactly one model version per purpose is recorded for it."""
    on_services.cbrtl(
        "demo", "seed", "--titles", "800", "--users", "2000", "--ratings", "120000", "--videos", "0"
    )
    worker = on_services.start_worker("ml")
    queued = on_services.cbrtl("retrain")
    job_id = int(queued.stdout.split()[1])
    wait_for(
        lambda: job(engine, job_id).status == "running" and job(engine, job_id).progress >= 0.05,
        timeout=120,
        interval=0.2,
        what="the retrain under way",
    )
    worker.kill(signal.SIGKILL)
    on_services.start_worker("ml")
    wait_for(
        lambda: job(engine, job_id).status in ("succeeded", "failed", "dead"),
        timeout=600,
        interval=1,
        what="the retrain to finish",
    )
    done = job(engine, job_id)
    assert (done.status, done.attempts) == ("succeeded", 2), done.error
    with Session(engine) as session:
        per_purpose: dict[str, int] = dict(
            session.execute(
                select(RecModel.purpose, func.count())
                .where(RecModel.job_id == job_id)
                .group_by(RecModel.purpose)
            ).all()
        )
        lists = session.scalar(text("SELECT count(DISTINCT user_id) FROM recommendations"))
    assert per_purpose == {"ranking": 1, "rating": 1}
    assert lists and lists > 1000
    record(
        "sigkill_mid_retrain",
        attempts=done.attempts,
        versions_per_purpose=1,
        users_with_lists=lists,
    )
