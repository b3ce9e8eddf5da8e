"""Fault tests on real processes: poison jobs, a time-limit overrun, Redis gone, and a
burst of transcodes next to a burst of ratings. Each states what it proves."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from db.engine import make_engine
from tests.e2e import poison_tasks
from tests.e2e.faults import enqueue, job, record, stats_mismatches, unfinished_jobs
from tests.e2e.processes import Api, Platform
from tests.e2e.test_video import make_clip, upload
from tests.factories import PASSWORD, make_content, make_user
from tests.services import free_port, wait_for


@pytest.fixture
def engine(on_services: Platform) -> Iterator[Engine]:
    engine = make_engine(on_services.env["CBRTL_DATABASE_URL"])
    yield engine
    engine.dispose()


def seed(engine: Engine, *, users: int, titles: int) -> tuple[list[str], list[int]]:
    with Session(engine) as session:
        people = [make_user(session, roles=("creator",)) for _ in range(users)]
        items = [make_content(session) for _ in range(titles)]
        session.commit()
        return [p.email for p in people], [i.id for i in items]


def rate_all(api: Api, tokens: list[str], items: list[int]) -> int:
    """Every user rates every title; returns how many the API accepted."""
    accepted = 0
    for n, token in enumerate(tokens):
        for m, item in enumerate(items):
            score = 0.5 + ((n * 7 + m * 3) % 10) / 2
            answer = api.call("PUT", f"/content/{item}/rating", token, json={"score": score})
            assert answer.status_code == 200, answer.text
            accepted += 1
    return accepted


def test_poison_jobs_end_dead_and_the_rest_keep_flowing(
    on_services: Platform, engine: Engine
) -> None:
    """A job that always raises and one that kills its worker process both end `dead`
    after their attempts; one that overruns its time limit fails once, without a requeue
    loop; ratings enqueued at the same time all complete."""
    on_services.env["CBRTL_EXTRA_TASK_MODULES"] = "tests.e2e.poison_tasks"
    on_services.env["PYTHONPATH"] = str(Path(__file__).parents[2])  # tests/ is not installed
    emails, items = seed(engine, users=5, titles=4)
    on_services.start_web()
    on_services.start_worker("ratings,default")
    on_services.start_beat()  # the relay publishes retries when their backoff is over
    raises = enqueue(on_services, engine, poison_tasks.ALWAYS_FAILS, max_attempts=3)
    kills = enqueue(on_services, engine, poison_tasks.KILLS_WORKER, max_attempts=3)
    overruns = enqueue(on_services, engine, poison_tasks.OVERRUNS, max_attempts=3)
    api = Api(on_services.base_url)
    accepted = rate_all(api, [api.token(e, PASSWORD) for e in emails], items)

    def settled() -> bool:
        states = [job(engine, j).status for j in (raises, kills, overruns)]
        return states == ["dead", "dead", "failed"] and not unfinished_jobs(
            engine, "ratings.recompute_stats"
        )

    wait_for(settled, timeout=180, interval=1, what="poison jobs settled, ratings done")
    assert job(engine, raises).attempts == 3
    assert job(engine, raises).error == "RuntimeError: poison: this job always raises"
    assert job(engine, kills).attempts == 3
    assert (job(engine, kills).error or "").startswith("Gave up after 3 attempts")
    late = job(engine, overruns)
    assert (late.attempts, late.error) == (1, "Ran past its time limit of 2 s.")
    assert stats_mismatches(engine) == 0
    with engine.connect() as conn:
        submitted, completed = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded') FROM jobs "
                "WHERE type = 'ratings.recompute_stats'"
            )
        ).one()
    assert submitted == completed
    record(
        "poison_jobs",
        ratings_accepted=accepted,
        rating_jobs_submitted=submitted,
        rating_jobs_completed=completed,
        always_raises=f"dead after {job(engine, raises).attempts} attempts",
        kills_its_worker=f"dead after {job(engine, kills).attempts} attempts",
        overruns=f"failed after {late.attempts} attempt",
    )


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis of this test's own, so stopping it disturbs nobody else."""
    port = free_port()
    server = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=1)
    wait_for(lambda: bool(client.ping()), timeout=20, what="our redis-server")
    client.close()
    yield url, server
    server.kill()
    server.wait(timeout=10)


def test_redis_down_answers_without_500s(
    on_services: Platform, engine: Engine, own_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    """With its Redis gone the API keeps answering: cache, rate limiter and token
    blocklist fall back; /readyz says the cache is not ok, and nothing is a 500."""
    url, server = own_redis
    on_services.env["CBRTL_REDIS_URL"] = url
    emails, items = seed(engine, users=2, titles=3)
    on_services.start_web()
    on_services.start_worker("ratings,default")
    api = Api(on_services.base_url)
    token = api.token(emails[0], PASSWORD)
    assert api.call("GET", "/trending").status_code == 200

    server.kill()
    server.wait(timeout=10)
    statuses: list[tuple[str, int]] = []

    def call(method: str, path: str, **kw: object) -> requests.Response:
        answer = api.call(method, path, token, **kw)
        statuses.append((f"{method} {path}", answer.status_code))
        return answer

    fresh = api.call("POST", "/auth/login", json={"email": emails[1], "password": PASSWORD})
    statuses.append(("POST /auth/login", fresh.status_code))
    for item in items:
        call("PUT", f"/content/{item}/rating", json={"score": 4.0})
        call("GET", f"/content/{item}")
        call("GET", f"/content/{item}/similar")
    for path in ("/me", "/content", "/trending", "/homepage", "/recommendations", "/me/history"):
        call("GET", path)
    refresh = api.call("POST", "/auth/refresh", fresh.json()["refresh_token"] if fresh.ok else None)
    statuses.append(("POST /auth/refresh", refresh.status_code))
    logout = api.call("POST", "/auth/logout", token)
    statuses.append(("POST /auth/logout", logout.status_code))
    assert [s for s in statuses if s[1] >= 500] == []
    assert all(code < 400 for _, code in statuses), statuses
    ready = requests.get(f"{on_services.base_url}/readyz", timeout=10).json()
    assert ready["checks"]["cache"] != "ok"
    assert ready["checks"]["database"] == "ok"
    wait_for(lambda: stats_mismatches(engine) == 0, timeout=60, what="ratings aggregated")
    record("redis_down", requests=len(statuses), server_errors=0)


def test_ratings_are_not_starved_by_a_burst_of_transcodes(
    on_services: Platform, engine: Engine, tmp_path: Path
) -> None:
    """Ten uploads' transcodes and a burst of ratings at once: the ratings, on their own
    queue and workers, are all aggregated while transcodes are still waiting."""
    emails, items = seed(engine, users=10, titles=5)
    with Session(engine) as session:
        maker = make_user(session, roles=("creator",))
        titles = [make_content(session, owner=maker, title=f"Burst {n}").id for n in range(10)]
        session.commit()
        maker_email = maker.email
    clip = make_clip(tmp_path / "burst.mp4", size="1280x720", seconds=8)
    on_services.start_web()
    api = Api(on_services.base_url)
    maker_token = api.token(maker_email, PASSWORD)
    for content_id in titles:  # queued through the upload API, as creators do
        upload(api, maker_token, content_id, clip)
    on_services.start_worker("media")
    on_services.start_worker("ratings,default")
    accepted = rate_all(api, [api.token(e, PASSWORD) for e in emails], items)

    wait_for(
        lambda: unfinished_jobs(engine, "ratings.recompute_stats") == 0,
        timeout=120,
        what="every rating job done",
    )
    transcodes_left = unfinished_jobs(engine, "media.transcode")
    assert transcodes_left > 0  # the media queue is still busy: ratings did not wait on it
    assert stats_mismatches(engine) == 0
    record(
        "burst",
        ratings_accepted=accepted,
        transcodes_queued=10,
        transcodes_unfinished_when_ratings_done=transcodes_left,
    )


# From the kill: the pool process is replaced and the message handed back at once; a
# whole worker's message is lost with it, so the relay requeues the job once its
# heartbeat has been silent for claimants.SILENT_S (30 s). Both far below the 1,800 s
# lease the embedded default used to wait for.
TAKEOVER_DEADLINE_S = {"pool": 30.0, "worker": 75.0}


@pytest.mark.parametrize("killed", ["pool", "worker"])
def test_embedded_default_takes_over_a_killed_transcode(
    embedded: Platform, tmp_path: Path, killed: str
) -> None:
    """SQLite and the filesystem broker, real worker processes as `make run` starts them.
    Mid-transcode, SIGKILL the media worker's pool process and its ffmpeg (Celery hands
    the message back, with no redelivered flag), or the whole worker (the message goes
    with it): the job is taken over within seconds and succeeds on its second attempt."""
    embedded.cbrtl(
        "users", "create", "--email", "maker@example.org", "--password", PASSWORD,
        "--role", "creator",
    )  # fmt: skip
    embedded.start_web()
    media = embedded.start_worker("media")
    embedded.start_worker("ratings,default")  # the outbox relay's tick runs on `default`
    embedded.start_beat()
    api = Api(embedded.base_url)
    token = api.token("maker@example.org", PASSWORD)
    content_id = api.call("POST", "/content", token, json={"title": "Killed"}).json()["id"]
    clip = make_clip(tmp_path / "long.mp4", size="1280x720", seconds=12)
    job_id = int(upload(api, token, content_id, clip)["id"])
    engine = make_engine(f"sqlite:///{Path(embedded.env['CBRTL_DATA_DIR']).resolve()}/cbrtl.db")
    try:
        wait_for(
            lambda: job(engine, job_id).progress >= 0.15,
            timeout=180,
            interval=0.3,
            what="the transcode under way",
        )
        killed_at = time.monotonic()
        if killed == "pool":
            media.kill_pool()
        else:
            media.kill(signal.SIGKILL)
            embedded.start_worker("media")
        wait_for(
            lambda: job(engine, job_id).attempts == 2,
            timeout=TAKEOVER_DEADLINE_S[killed],
            interval=0.5,
            what=f"the job taken over after its {killed} was killed",
        )
        taken_over_s = time.monotonic() - killed_at
        wait_for(
            lambda: job(engine, job_id).status in ("succeeded", "failed", "dead"),
            timeout=240,
            interval=0.5,
            what="the transcode to finish",
        )
        finished_s = time.monotonic() - killed_at
        done = job(engine, job_id)
    finally:
        engine.dispose()
    assert (done.status, done.attempts) == ("succeeded", 2), done.error
    video = api.call("GET", f"/content/{content_id}/video").json()
    assert video["status"] == "ready", video
    record(
        f"embedded_kill_{killed}_mid_transcode",
        taken_over_after_s=round(taken_over_s, 1),
        succeeded_after_s=round(finished_s, 1),
        attempts=done.attempts,
    )
