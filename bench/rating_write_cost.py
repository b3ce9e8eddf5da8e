#!/usr/bin/env python3
"""Server-side cost of one `PUT /api/v1/content/{id}/rating`: CPU and SQL round trips.

    .venv/bin/python bench/rating_write_cost.py [--requests 300] [--rounds 3]
                                                [--redis-url redis://127.0.0.1:6379/11]

The production app (`web.app:create_app()`, its own engine, RabbitMQ publisher and outbox)
runs in this process and is driven through Flask's test client, so nothing but the
server's own work is counted. Per request:

* request CPU   time.thread_time() of the request thread (what the view costs).
* process CPU   time.process_time() of the whole process from the first request until
                every job the phase wrote is marked published, divided by the requests:
                the request plus whatever publishes in the background.
* statements    SQL statements sent (SQLAlchemy `before_cursor_execute`, every engine,
                every thread), plus commits and pool checkouts (each a ping round trip).
* wall          the request's latency (the broker's confirm, when the request waits it).

Two phases per round, each `--requests` PUTs by distinct viewers on distinct titles:
`new` (no job is queued for that title or viewer: both enqueues write a row) and
`joined` (both jobs are still queued: both enqueues join them). Between rounds the
queued jobs are marked succeeded, as a worker would. An active model row makes every
rating queue the viewer's refresh too, as on a trained platform.

Measure another checkout by running its copy of this file (benchlib puts the checkout
the script sits in first on sys.path). Database and vhost are throw-away.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchlib import (
    Processes,
    add_common_args,
    bench_names,
    bench_resources,
    code_version,
    guarded_main,
    log,
    machine_footer,
    machine_info,
    med,
    pct,
    pg_connect,
)


@dataclass
class Counters:
    """SQL traffic of the app, split by thread (request thread or any other)."""

    main: int = threading.get_ident()
    counts: dict[str, int] = field(default_factory=dict)

    def hit(self, kind: str) -> None:
        where = "request" if threading.get_ident() == self.main else "background"
        key = f"{kind}:{where}"
        self.counts[key] = self.counts.get(key, 0) + 1

    def take(self) -> dict[str, int]:
        taken, self.counts = self.counts, {}
        return taken


@dataclass
class Phase:
    round: int
    phase: str
    requests: int
    request_cpu_ms: float
    process_cpu_ms: float
    wall_p50_ms: float
    wall_p99_ms: float
    publish_wait_s: float
    counts: dict[str, float]


@dataclass
class Report:
    args: dict[str, Any]
    code: str
    started: str
    machine: dict[str, str]
    phases: list[Phase] = field(default_factory=list)


def install_counters() -> Counters:
    from sqlalchemy import Engine, event
    from sqlalchemy.pool import Pool

    counters = Counters()
    event.listen(Engine, "before_cursor_execute", lambda *_a: counters.hit("statements"))
    event.listen(Engine, "commit", lambda *_a: counters.hit("commits"))
    event.listen(Pool, "checkout", lambda *_a: counters.hit("checkouts"))
    return counters


def seed(database_url: str, n: int) -> tuple[list[int], list[int]]:
    """n viewers (no password: tokens are minted), n titles with stats, every pair
    (viewer i, title i) pre-rated, one active model."""
    conn = pg_connect(database_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO users (email, password_hash, display_name, created_at) "
                "SELECT 'w' || g || '@example.com', 'x', 'W ' || g, now() "
                "FROM generate_series(1, %s) g RETURNING id",
                (n,),
            )
            users = sorted(r[0] for r in cur.fetchall())
            cur.execute(
                "INSERT INTO content (title, description, created_at, updated_at) "
                "SELECT 'T ' || g, '', now(), now() FROM generate_series(1, %s) g RETURNING id",
                (n,),
            )
            items = sorted(r[0] for r in cur.fetchall())
            cur.execute(
                "INSERT INTO content_stats (content_id, rating_count, updated_at) "
                "SELECT id, 0, now() FROM content"
            )
            cur.executemany(
                "INSERT INTO ratings (user_id, content_id, score, rated_at) "
                "VALUES (%s, %s, 3.0, now())",
                list(zip(users, items, strict=True)),
            )
            cur.execute(
                "INSERT INTO rec_models (purpose, algorithm, params, metrics, artifact_key, "
                "trained_ratings, active, created_at) "
                "VALUES ('ranking', 'bench', '{}', '{}', 'none', 0, true, now())"
            )
    finally:
        conn.close()
    return users, items


def db_scalar(database_url: str, sql: str) -> int:
    conn = pg_connect(database_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql)
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def wait_published(database_url: str, timeout_s: float = 60) -> float:
    """Poll (with a deadline) until no job row waits to be published."""
    start = time.monotonic()
    conn = pg_connect(database_url)
    conn.autocommit = True
    try:
        while time.monotonic() - start < timeout_s:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM jobs WHERE published_at IS NULL")
                if cur.fetchone()[0] == 0:
                    return time.monotonic() - start
            time.sleep(0.002)
    finally:
        conn.close()
    raise RuntimeError(f"jobs still unpublished after {timeout_s:.0f} s")


def run(args: argparse.Namespace) -> Report:
    name, database_url, broker_url = bench_names()
    report = Report(
        args=dict(vars(args)),
        code=code_version(),
        started=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=machine_info(),
    )
    procs = Processes()
    with bench_resources(name, procs, args.logs) as workdir:
        from flask_jwt_extended import create_access_token

        from db.migrate import upgrade
        from db.settings import Settings
        from web.app import create_app

        upgrade(database_url)
        users, items = seed(database_url, args.requests)
        settings = Settings(
            data_dir=workdir,
            database_url=database_url,
            broker_url=broker_url,
            redis_url=args.redis_url,
            secret_key="bench-secret-key-not-for-production-0123456789",
            log_level="WARNING",
        )
        app = create_app(settings)
        with app.app_context():
            tokens = [
                create_access_token(
                    identity=str(u), additional_claims={"roles": ["user"], "fam": f"f{u}"}
                )
                for u in users
            ]
        client = app.test_client()
        counters = install_counters()

        def phase(rnd: int, label: str) -> None:
            counters.take()
            walls: list[float] = []
            thread_cpu = 0.0
            cpu0 = time.process_time()
            for i, (item, token) in enumerate(zip(items, tokens, strict=True)):
                t0, c0 = time.perf_counter(), time.thread_time()
                response = client.put(
                    f"/api/v1/content/{item}/rating",
                    json={"score": 0.5 + (i + rnd) % 10 / 2},
                    headers={"Authorization": f"Bearer {token}"},
                )
                thread_cpu += time.thread_time() - c0
                walls.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    raise RuntimeError(f"PUT rating: {response.status_code} {response.data!r}")
            waited = wait_published(database_url)
            cpu = time.process_time() - cpu0
            n = len(items)
            counts = {k: v / n for k, v in sorted(counters.take().items())}
            if rnd > 0:
                walls_ms = (1000 * med(walls), 1000 * pct(walls, 99))
                cpus_ms = (1000 * thread_cpu / n, 1000 * cpu / n)
                report.phases.append(Phase(rnd, label, n, *cpus_ms, *walls_ms, waited, counts))
            log(
                f"round {rnd} {label:6s} request CPU {1000 * thread_cpu / n:.2f} ms, process CPU "
                f"{1000 * cpu / n:.2f} ms, wall p50 {1000 * med(walls):.2f} ms, "
                f"published {waited:.2f} s after the last request; per request {counts}"
            )

        for rnd in range(args.rounds + 1):  # round 0 warms up
            phase(rnd, "new")
            phase(rnd, "joined")
            db_scalar(
                database_url,
                "WITH d AS (UPDATE jobs SET status = 'succeeded' WHERE status = 'queued' "
                "RETURNING 1) SELECT count(*) FROM d",
            )
        jobs = db_scalar(database_url, "SELECT count(*) FROM jobs")
        log(f"{jobs} jobs rows written, all published")
        app.extensions["cbrtl"].session_factory.kw["bind"].dispose()
    return report


def markdown(report: Report) -> str:
    out = [
        "### Cost of one rating write, `PUT /api/v1/content/{id}/rating`",
        "",
        f"Code: {report.code}. In-process (Flask test client), PostgreSQL and RabbitMQ on "
        f"loopback, Redis {report.args['redis_url'] or 'off'}; "
        f"medians of {report.args['rounds']} rounds of {report.args['requests']} requests.",
        "",
        "| phase | request CPU ms | process CPU ms | wall p50 ms | wall p99 ms "
        "| statements (request / background) | commits | pool checkouts |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label in ("new", "joined"):
        rows = [p for p in report.phases if p.phase == label]
        if not rows:
            continue

        def c(key: str, rows: list[Phase] = rows) -> float:
            return med([p.counts.get(key, 0.0) for p in rows])

        out.append(
            f"| {label} | {med([p.request_cpu_ms for p in rows]):.2f} "
            f"| {med([p.process_cpu_ms for p in rows]):.2f} "
            f"| {med([p.wall_p50_ms for p in rows]):.2f} "
            f"| {med([p.wall_p99_ms for p in rows]):.2f} "
            f"| {c('statements:request'):.2f} / {c('statements:background'):.2f} "
            f"| {c('commits:request') + c('commits:background'):.2f} "
            f"| {c('checkouts:request') + c('checkouts:background'):.2f} |"
        )
    out += ["", *machine_footer(report.machine, report.started)]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="PUTs per phase")
    parser.add_argument("--rounds", type=int, default=3)
    add_common_args(parser)
    args = parser.parse_args(argv)
    reports: list[Report] = []

    def body() -> str:
        reports.append(run(args))
        return markdown(reports[0])

    return guarded_main(args, body, lambda: asdict(reports[0]))


if __name__ == "__main__":
    sys.exit(main())
