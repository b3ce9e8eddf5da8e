#!/usr/bin/env python3
"""The platform under a realistic mix of viewers, at rising concurrency, to saturation.

    .venv/bin/python bench/load_mix.py [--steps 4,16,32,64,128] [--duration 30]
                                       [--accounts 200] [--dataset PATH]

Production processes on one machine, on the real services: gunicorn with the
production settings module (`web.app:create_app()`, 2 workers x 4 threads unless
--workers/--threads), the Procfile's two workers that the mix feeds (`worker`:
ratings,default, concurrency 2; `worker_ml`: ml, concurrency 1) and beat, on
PostgreSQL, RabbitMQ and Redis (--redis-url, database 5 by default); a throw-away
database `cbrtl_bench_<pid>` and a vhost of the same name.

Data: MovieLens ml-100k imported with `cbrtl import movielens` (1,682 titles, 100,000
ratings), --accounts viewers with 20 ratings each, a recommender trained with
`cbrtl retrain --wait` and trending refreshed, so every call does its real work.

Load: Locust (bench/locust_mix.py), one process, closed loop, no think time: each
simulated viewer repeats home page 3 : open a title 4 : report progress 3 : rate 2 :
recommendations 2. Every step runs --duration seconds at its concurrency (stats reset
once every viewer has started). After each step the bench waits for the queues to
drain, then runs the same concurrency against the ceiling: the smallest Flask JSON
endpoint (bench/minimal_flask.py) under the same gunicorn settings.

Queue lag: a sampler reads RabbitMQ's ready messages on `ratings` and `ml` and the
outbox's unpublished jobs every second; the jobs table gives, per job type, created ->
finished for the jobs the step created; "drain" is how long the queues took to empty
after the step ended.

Locust, the web, the workers, PostgreSQL and RabbitMQ share the same two cores, so
the ceiling and the mix are both bounded by the machine, and the ratio between them is
the figure to compare across machines. Everything it creates is removed at the end
(also on Ctrl-C; `--cleanup-stale` removes what a SIGKILLed run left).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchlib import (
    BENCH_DIR,
    ML100K_DIR,
    PASSWORD,
    REPO,
    Processes,
    add_common_args,
    bench_env,
    bench_names,
    bench_resources,
    cbrtl,
    code_version,
    cpu_busy_pct,
    cpu_ticks,
    drain_jobs,
    free_port,
    guarded_main,
    log,
    log_problems,
    login_all,
    machine_footer,
    machine_info,
    pg_connect,
    problems_footer,
    process_cpu,
    start_gunicorn,
    start_worker,
    wait_healthy,
)
from kombu import Connection

DEFAULT_DATASET = str(ML100K_DIR)
JOB_TYPES = ("ratings.recompute_stats", "recommender.refresh_user")
TOKEN_REFRESH_S = 600


@dataclass
class CallStats:
    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass
class Step:
    users: int
    mix: list[CallStats]
    mix_total: CallStats
    ceiling: CallStats
    mix_cpu_pct: float
    queue_max: dict[str, int]
    outbox_max: int
    jobs: dict[str, dict[str, float]]
    drain_s: float
    cpu_s: dict[str, float]  # CPU seconds per role during the mix


@dataclass
class Report:
    args: dict[str, Any]
    started: str
    machine: dict[str, str]
    code: str = ""
    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- set-up


def make_viewers(database_url: str, count: int, seed: int = 7) -> tuple[list[str], list[int]]:
    """`count` accounts with 20 ratings each on imported titles; returns (emails, titles)."""
    from sqlalchemy import insert, select

    from db.engine import make_engine, make_session_factory
    from db.models import Content, Rating
    from db.services.users import create_user

    rng = random.Random(seed)
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            titles = list(session.scalars(select(Content.id).order_by(Content.id)))
            emails, rows = [], []
            for i in range(count):
                email = f"viewer{i}@example.com"
                user = create_user(
                    session=session, email=email, password=PASSWORD, display_name=f"Viewer {i}"
                )
                emails.append(email)
                rows += [
                    {"user_id": user.id, "content_id": c, "score": rng.choice(range(1, 6))}
                    for c in rng.sample(titles, 20)
                ]
            session.execute(insert(Rating), rows)
            session.commit()
    finally:
        engine.dispose()
    return emails, titles


def refresh_trending(env: dict[str, str]) -> None:
    """Queue trending.refresh as beat would (beat's first refresh is minutes away)."""
    code = (
        "from cli.session import unit_of_work\n"
        "from db.services.jobs import enqueue\n"
        "from db.settings import load_settings_or_exit\n"
        "with unit_of_work(load_settings_or_exit()) as s:\n"
        "    enqueue(session=s, type='trending.refresh', args={})\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=True, timeout=60)


# --------------------------------------------------------------------------- measuring


def run_locust(
    user_class: str, port: int, users: int, duration: float, out: Path, data: Path
) -> tuple[list[CallStats], CallStats]:
    prefix = out / f"{user_class}_{users}"
    argv = [sys.executable, "-m", "locust", "-f", str(BENCH_DIR / "locust_mix.py"),
            "--headless", "--users", str(users), "--spawn-rate", str(users),
            "--run-time", f"{duration:.0f}s", "--reset-stats", "--only-summary",
            "--csv", str(prefix), "--host", f"http://127.0.0.1:{port}",
            "--loglevel", "ERROR", "--stop-timeout", "10", user_class]  # fmt: skip
    env = {**os.environ, "CBRTL_LOAD_DATA": str(data)}
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=duration + 120)  # fmt: skip
    stats_file = Path(f"{prefix}_stats.csv")
    if not stats_file.exists():
        raise RuntimeError(
            f"locust wrote no stats (exit {done.returncode}):\n{done.stderr[-2000:]}"
        )
    calls, total = [], None
    with stats_file.open() as f:
        for row in csv.DictReader(f):
            stats = CallStats(
                name=row["Name"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                rps=float(row["Requests/s"]),
                p50_ms=float(row["50%"]),
                p95_ms=float(row["95%"]),
                p99_ms=float(row["99%"]),
            )
            if row["Name"] == "Aggregated":
                total = stats
            else:
                calls.append(stats)
    assert total is not None, f"no Aggregated row in {stats_file}"
    return sorted(calls, key=lambda c: c.name), total


ROLES = (
    ("web (gunicorn)", "web.app:create_app()"),
    ("ratings worker", "--queues ratings"),
    ("ml worker", "--queues ml"),
    ("PostgreSQL", "postgres"),
    ("RabbitMQ", "beam.smp"),
    ("Redis", "redis-server"),
)


def cpu_by_role() -> dict[str, float]:
    """CPU seconds used so far by each role's processes (every role here is a
    long-running process, so nothing of theirs is lost to exits)."""
    used = dict.fromkeys([r for r, _ in ROLES], 0.0)
    for _pid, _parent, cmdline, cpu_s in process_cpu():
        role = next((r for r, marker in ROLES if marker in cmdline), None)
        if role is not None:
            used[role] += cpu_s
    return used


class QueueSampler(threading.Thread):
    """Every second: ready messages on the mix's queues and the outbox's backlog."""

    def __init__(self, broker_url: str, database_url: str) -> None:
        super().__init__(daemon=True)
        self.broker_url, self.database_url = broker_url, database_url
        self.stop_event = threading.Event()
        self.queue_max = {"ratings": 0, "ml": 0}
        self.outbox_max = 0

    def run(self) -> None:
        conn = pg_connect(self.database_url)
        conn.autocommit = True
        broker = Connection(self.broker_url, connect_timeout=5)
        try:
            channel = broker.default_channel
            while not self.stop_event.wait(1.0):
                for queue in self.queue_max:
                    ready = channel.queue_declare(queue=queue, passive=True).message_count
                    self.queue_max[queue] = max(self.queue_max[queue], int(ready))
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT count(*) FROM jobs WHERE status = 'queued' AND published_at IS NULL"
                    )
                    self.outbox_max = max(self.outbox_max, int(cur.fetchone()[0]))
        finally:
            broker.release()
            conn.close()


def job_lag(database_url: str, start: dt.datetime, end: dt.datetime) -> dict[str, dict[str, float]]:
    """Per job type, the jobs created in [start, end): count, and created -> finished."""
    conn = pg_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                """
                SELECT type, count(*),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)),
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)),
                  max(extract(epoch FROM finished_at - created_at)),
                  count(*) FILTER (WHERE status IN ('failed', 'dead'))
                FROM jobs WHERE created_at >= %s AND created_at < %s AND type = ANY(%s)
                GROUP BY type
                """,  # noqa: E501
                (start, end, list(JOB_TYPES)),
            )
            rows = cur.fetchall()
    finally:
        conn.close()
    nan = float("nan")
    return {
        kind: {
            "jobs": n,
            "p50_s": float(p50 or nan),
            "p95_s": float(p95 or nan),
            "max_s": float(top or nan),
            "failed": failed,
        }
        for kind, n, p50, p95, top, failed in rows
    }


def measure_step(
    args: argparse.Namespace, users: int, ports: tuple[int, int], urls: tuple[str, str],
    workdir: Path, data: Path,
) -> Step:  # fmt: skip
    port, ceiling_port = ports
    database_url, broker_url = urls
    log(f"step {users} viewers: the mix for {args.duration:.0f} s")
    sampler = QueueSampler(broker_url, database_url)
    sampler.start()
    start, ticks, roles = dt.datetime.now(dt.UTC), cpu_ticks(), cpu_by_role()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    mix, mix_total = run_locust("MixUser", port, users, args.duration, workdir, data)
    end, busy = dt.datetime.now(dt.UTC), cpu_busy_pct(ticks, cpu_ticks())
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    drained = drain_jobs(database_url, args.drain_timeout)
    # After the drain, so the jobs the step queued are paid for in full.
    after = cpu_by_role()
    share = {role: after[role] - roles[role] for role in after}
    # Locust is the only child reaped during the step: its CPU is the children's delta.
    share["locust"] = (reaped.ru_utime + reaped.ru_stime) - (children.ru_utime + children.ru_stime)
    sampler.stop_event.set()
    sampler.join()
    jobs = job_lag(database_url, start, end)
    log(f"step {users} viewers: {mix_total.rps:.0f} req/s, drained in {drained:.1f} s; ceiling")
    _, ceiling = run_locust("PingUser", ceiling_port, users, args.duration, workdir, data)
    return Step(users, mix, mix_total, ceiling, busy, dict(sampler.queue_max),
                sampler.outbox_max, jobs, drained, share)  # fmt: skip


# --------------------------------------------------------------------------- the run


def run(args: argparse.Namespace, report: Report) -> str:
    procs = Processes()
    name, database_url, broker_url = bench_names()
    report.code = code_version()
    with bench_resources(name, procs, args.logs) as workdir:
        port, ceiling_port = free_port(), free_port()
        env = bench_env(args, database_url, broker_url, workdir / "var", port)
        log("migrating and importing MovieLens")
        cbrtl(env, "db", "upgrade")
        cbrtl(env, "import", "movielens", str(args.dataset))
        emails, titles = make_viewers(database_url, args.accounts)
        web = start_gunicorn(procs, "cbrtl", ["web.app:create_app()"], env, workdir / "web.log")
        wait_healthy(port, web, workdir / "web.log")
        ceiling_env = {**env, "PORT": str(ceiling_port), "CBRTL_DATA_DIR": str(workdir / "c")}
        ceiling = start_gunicorn(
            procs, "minimal Flask", ["--pythonpath", str(BENCH_DIR), "minimal_flask:application"],
            ceiling_env, workdir / "ceiling.log",
        )  # fmt: skip
        wait_healthy(ceiling_port, ceiling, workdir / "ceiling.log")
        start_worker(procs, env, workdir, broker_url)
        start_worker(procs, env, workdir, broker_url, queues="ml", concurrency=1, name="worker_ml")
        # Beat runs the outbox relay (retries, publishes that failed after commit).
        beat_argv = [sys.executable, "-m", "celery", "--app", "workers.celery_app", "beat",
                     "--schedule", str(workdir / "beat-schedule"),
                     "--loglevel", "WARNING"]  # fmt: skip
        procs.start("celery beat", beat_argv, env=env, log_path=workdir / "beat.log")
        log("training the recommender and refreshing trending")
        cbrtl(env, "retrain", "--wait", timeout=900)
        refresh_trending(env)
        drain_jobs(database_url, args.drain_timeout)
        data, signed_in = workdir / "load.json", 0.0
        for users in args.steps:
            if time.monotonic() - signed_in > TOKEN_REFRESH_S:  # access tokens last 15 min
                data.write_text(json.dumps({"tokens": login_all(port, emails), "content": titles}))
                signed_in = time.monotonic()
            step = measure_step(
                args, users, (port, ceiling_port), (database_url, broker_url), workdir, data
            )
            report.steps.append(step)
        for log_name in ("web.log", "worker.log", "worker_ml.log", "beat.log", "ceiling.log"):
            report.problems += [f"{log_name}: {x}" for x in log_problems(workdir / log_name)]
    return markdown(report)


def markdown(report: Report) -> str:
    out = ["| viewers | call | req/s | p50 ms | p95 ms | p99 ms | failures |",
           "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for s in report.steps:
        labelled = [(c, c.name) for c in s.mix]
        labelled += [
            (s.mix_total, "**all calls of the mix**"),
            (s.ceiling, "*ceiling: minimal Flask*"),
        ]
        for c, label in labelled:
            out.append(f"| {s.users} | {label} | {c.rps:.1f} | {c.p50_ms:.0f} | {c.p95_ms:.0f} "
                       f"| {c.p99_ms:.0f} | {c.failures} |")  # fmt: skip
    out += ["", "| viewers | mix req/s | ceiling req/s | mix / ceiling | CPU busy (mix) | "
            "max ready: ratings | max ready: ml | max outbox | recompute_stats p50 / p95 s | "
            "refresh_user p50 / p95 s | drain after step s |",
            "|" + " ---: |" * 8 + " --- | --- | ---: |"]  # fmt: skip
    for s in report.steps:
        lag = {k: s.jobs.get(k, {}) for k in JOB_TYPES}
        cells = [
            f"{lag[k].get('p50_s', float('nan')):.2f} / {lag[k].get('p95_s', float('nan')):.2f}"
            f" ({int(lag[k].get('jobs', 0))} jobs)"
            for k in JOB_TYPES
        ]
        ratio = s.mix_total.rps / s.ceiling.rps if s.ceiling.rps else float("nan")
        out.append(f"| {s.users} | {s.mix_total.rps:.1f} | {s.ceiling.rps:.1f} | {ratio:.3f} "
                   f"| {s.mix_cpu_pct:.0f}% | {s.queue_max['ratings']} | {s.queue_max['ml']} "
                   f"| {s.outbox_max} | {cells[0]} | {cells[1]} | {s.drain_s:.1f} |")  # fmt: skip
    roles = [r for r, _ in ROLES] + ["locust"]
    out += ["", "CPU seconds per request of the mix, by process (from /proc, during the step):",
            "", "| viewers | " + " | ".join(roles) + " | all |",
            "| ---: |" + " ---: |" * (len(roles) + 1)]  # fmt: skip
    for s in report.steps:
        n = max(1, s.mix_total.requests)
        cells = [f"{s.cpu_s.get(r, 0.0) / n * 1000:.1f} ms" for r in roles]
        total = sum(s.cpu_s.values()) / n * 1000
        out.append(f"| {s.users} | " + " | ".join(cells) + f" | {total:.1f} ms |")
    out += ["", f"Code: {report.code}.", *machine_footer(report.machine, report.started)]
    out += problems_footer(report.problems)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--steps",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[4, 16, 32, 64, 128],
        help="concurrent viewers per step, comma-separated",
    )
    parser.add_argument("--duration", type=float, default=30, help="seconds per step")
    parser.add_argument("--accounts", type=int, default=200, help="viewer accounts")
    parser.add_argument("--dataset", type=Path, default=Path(DEFAULT_DATASET))
    parser.add_argument("--drain-timeout", type=float, default=300)
    add_common_args(parser)
    # The platform as deployed: Redis for trending, the token blocklist and rate limits.
    parser.set_defaults(redis_url="redis://127.0.0.1:6379/5")
    args = parser.parse_args(argv)
    if not (args.dataset / "u.data").exists():
        parser.error(f"{args.dataset} has no u.data (set --dataset or CBRTL_ML100K_DIR)")
    if min(args.steps) <= 0 or args.duration <= 0 or args.accounts <= 0:
        parser.error("--steps, --duration and --accounts must be positive")
    report = Report(
        args=dict(vars(args)),
        started=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=machine_info(),
    )
    return guarded_main(args, lambda: run(args, report), lambda: asdict(report))


if __name__ == "__main__":
    sys.exit(main())
