#!/usr/bin/env python3
"""Ratings accepted per second over HTTP, with the job enqueue and without.

    .venv/bin/python bench/rating_throughput.py [--duration 20] [--concurrency 16]
                                                [--rounds 3] [--workers 2]

What it compares, in one run, on the same database and the same machine:

* enqueue     `gunicorn 'web.app:create_app()'`: PUT /api/v1/content/{id}/rating
              upserts the rating, writes a `jobs` row in the same transaction and,
              after commit, publishes a Celery message to RabbitMQ (publisher
              confirms) and marks the row published. This is production.
* no-enqueue  the same app through bench/wsgi_no_enqueue.py, where the rating path's
              enqueue returns a transient Job: no jobs row, nothing published.
* +worker     (optional, on by default) the enqueue server while a Celery worker on
              the `ratings` queue (the Procfile's command line) drains the queue on
              the same machine.

Set-up: a throw-away PostgreSQL database `cbrtl_bench_<pid>` (migrated with
db.migrate.upgrade) and a RabbitMQ vhost of the same name; N users and M content
items seeded through the services, and every (user, content) pair pre-rated so that
each measured PUT is the same kind of write (an upsert that updates). Tokens come
from POST /api/v1/auth/login. Load comes from `wrk` (if installed; `apt-get install
-y wrk`) or else from a Python keep-alive client, in a separate process, at a fixed
concurrency, with random user/content/score per request. Each variant gets a warm-up
then a timed window; variants alternate A, B(, C), A, B(, C) ... Only 200 responses
count; anything else is reported as errors.

Everything it creates (servers, worker, client, database, vhost, temp dir) is
removed at the end, also on an exception, Ctrl-C, SIGTERM or SIGHUP. Child processes
also get SIGTERM if this script is SIGKILLed (PR_SET_PDEATHSIG); the database and
vhost would then remain, and `--cleanup-stale` removes those whose pid is gone.
Targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchlib import (
    BENCH_DIR,
    LoadClient,
    Processes,
    add_common_args,
    add_load_args,
    bench_env,
    bench_names,
    bench_resources,
    cpu_busy_pct,
    cpu_ticks,
    free_port,
    guarded_main,
    ignore_signals,
    log,
    log_problems,
    login_all,
    machine_footer,
    machine_info,
    med,
    pg_connect,
    queue_state,
    seed,
    start_gunicorn,
    start_worker,
    tail,
    wait_healthy,
)

VARIANTS = {
    "enqueue": "rating + jobs row + publish to RabbitMQ (production)",
    "no-enqueue": "rating only (enqueue patched out)",
    "enqueue+worker": "production, with a ratings worker draining the queue",
}


def db_counts(database_url: str) -> dict[str, int]:
    conn = pg_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), count(published_at) FROM jobs")
            jobs, published = cur.fetchone()
            cur.execute("SELECT count(*) FROM jobs WHERE status = 'succeeded'")
            (succeeded,) = cur.fetchone()
            # PostgreSQL 14+: sessions ever opened to this database (connection churn).
            cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            (sessions,) = cur.fetchone()
        return {
            "jobs": int(jobs),
            "published": int(published),
            "succeeded": int(succeeded),
            "pg_sessions": int(sessions or 0),
        }
    finally:
        conn.close()


@dataclass
class RoundResult:
    round: int
    variant: str
    rps: float
    ok: int
    non200: int
    last_non200_status: int
    socket_errors: int
    socket_detail: str
    cpu_busy_pct: float
    timeouts: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    elapsed_s: float
    jobs_written: int
    pg_sessions_opened: int
    jobs_succeeded: int
    load1: float
    queue_ready_after: int | None = None


@dataclass
class Report:
    args: dict[str, Any]
    client: str
    started: str
    machine: dict[str, str]
    rounds: list[RoundResult] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)


def run(args: argparse.Namespace) -> Report:
    name, database_url, broker_url = bench_names()
    client_kind = args.client
    if client_kind == "auto":
        client_kind = "wrk" if shutil.which("wrk") else "python"
    variants = ["enqueue", "no-enqueue"] + (["enqueue+worker"] if args.with_worker else [])

    report = Report(
        args=dict(vars(args)),
        client=client_kind,
        started=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=machine_info(),
    )
    procs = Processes()
    try:
        with bench_resources(name, procs, args.logs) as workdir:
            from db.migrate import upgrade

            log("migrating")
            upgrade(database_url)
            log(
                f"seeding {args.users} users, {args.items} content items, "
                f"{args.users * args.items} ratings"
            )
            emails, content_ids, _ = seed(database_url, users=args.users, items=args.items)

            ports = {"enqueue": free_port(), "no-enqueue": free_port()}
            apps = {
                "enqueue": ["web.app:create_app()"],
                "no-enqueue": ["--pythonpath", str(BENCH_DIR), "wsgi_no_enqueue:application"],
            }
            servers = {}
            for variant, port in ports.items():
                env = bench_env(args, database_url, broker_url, workdir, port)
                log_path = workdir / f"gunicorn-{variant}.log"
                servers[variant] = (
                    start_gunicorn(procs, variant, apps[variant], env, log_path),
                    log_path,
                )
            for variant, (proc, log_path) in servers.items():
                wait_healthy(ports[variant], proc, log_path)
                log(
                    f"gunicorn {variant} ready on 127.0.0.1:{ports[variant]} "
                    f"({args.workers} workers x {args.threads} threads)"
                )

            log(f"logging in {len(emails)} users over HTTP")
            tokens = login_all(ports["enqueue"], emails)
            tokens_at = time.monotonic()
            client = LoadClient(client_kind, procs, workdir, tokens, content_ids, args.concurrency)
            worker_env = bench_env(args, database_url, broker_url, workdir, 1)

            for rnd in range(1, args.rounds + 1):
                if time.monotonic() - tokens_at > 600:  # access tokens live 15 minutes
                    client.set_tokens(login_all(ports["enqueue"], emails))
                    tokens_at = time.monotonic()
                for variant in variants:
                    port = ports["no-enqueue" if variant == "no-enqueue" else "enqueue"]
                    worker = None
                    if variant == "enqueue+worker":
                        worker = start_worker(procs, worker_env, workdir, broker_url)
                    try:
                        before = db_counts(database_url)
                        load1 = os.getloadavg()[0]
                        warm = client.run(port, args.warmup)
                        if warm["ok"] == 0:
                            server_log = servers[variant.split("+")[0]][1]
                            raise RuntimeError(
                                f"{variant}: no 200 in the warm-up: {warm}; "
                                f"server log:\n{tail(server_log)}"
                            )
                        cpu_before = cpu_ticks()
                        res = client.run(port, args.duration)
                        cpu_busy = cpu_busy_pct(cpu_before, cpu_ticks())
                        time.sleep(1)  # let requests still in flight commit before counting
                        after = db_counts(database_url)
                        written = after["jobs"] - before["jobs"]
                        drained = after["succeeded"] - before["succeeded"]
                        # minus 1: our own db_counts connection
                        new_sessions = after["pg_sessions"] - before["pg_sessions"] - 1
                    finally:
                        if worker is not None:
                            procs.stop(worker, grace_s=20)
                    queue = queue_state(broker_url, "ratings")
                    rr = RoundResult(
                        round=rnd,
                        variant=variant,
                        rps=res["ok"] / res["elapsed_s"],
                        ok=res["ok"],
                        non200=res["non200"],
                        last_non200_status=res["last_non200_status"],
                        socket_errors=res["socket_errors"],
                        socket_detail=res["socket_detail"],
                        cpu_busy_pct=cpu_busy,
                        timeouts=res["timeouts"],
                        p50_ms=res["p50_ms"],
                        p90_ms=res["p90_ms"],
                        p99_ms=res["p99_ms"],
                        mean_ms=res["mean_ms"],
                        elapsed_s=res["elapsed_s"],
                        jobs_written=written,
                        pg_sessions_opened=new_sessions,
                        jobs_succeeded=drained,
                        load1=load1,
                        queue_ready_after=queue[0] if queue else None,
                    )
                    report.rounds.append(rr)
                    log(
                        f"round {rnd} {variant:15s} {rr.rps:8.1f} ratings/s"
                        f"  p50 {rr.p50_ms:6.1f} ms  p99 {rr.p99_ms:6.1f} ms"
                        f"  non-200 {rr.non200}  socket errors {rr.socket_errors}"
                        + (f" ({rr.socket_detail})" if rr.socket_errors else "")
                        + f"  CPU busy {cpu_busy:.0f}%"
                        f"  jobs rows +{written}  succeeded +{drained}"
                        f"  PG sessions +{new_sessions}  load1 {load1:.2f}"
                    )

            counts = db_counts(database_url)
            queue = queue_state(broker_url, "ratings")
            report.final = {**counts, "queue_ready": queue[0] if queue else None}
            for variant, (_proc, log_path) in servers.items():
                errors = log_problems(log_path)
                report.final[f"log_problems_{variant}"] = len(errors)
                if errors:
                    log(
                        f"{variant} server log has {len(errors)} warning/error lines, e.g.:\n"
                        + "\n".join(errors[:5])
                    )
    finally:
        ignore_signals()
        procs.stop_all()  # already done, unless set-up failed before the resources existed
    return report


def markdown(report: Report) -> str:
    by: dict[str, list[RoundResult]] = {}
    for r in report.rounds:
        by.setdefault(r.variant, []).append(r)
    a = med([r.rps for r in by.get("enqueue", [])])
    b = med([r.rps for r in by.get("no-enqueue", [])])
    paired = [
        ra.rps / rb.rps
        for ra, rb in zip(by.get("enqueue", []), by.get("no-enqueue", []), strict=False)
        if rb.rps
    ]
    args = report.args
    out = [
        "### Ratings accepted per second, `PUT /api/v1/content/{id}/rating`",
        "",
        f"**With the enqueue {a:.0f}/s, without it {b:.0f}/s: ratio {a / b:.2f}** "
        f"(median of {args['rounds']} rounds each; the enqueue costs {100 * (1 - a / b):.0f}% "
        f"of throughput; median of the per-round ratios {med(paired):.2f}).",
        "",
        "| variant | what runs | median ratings/s | median p50 ms | median p99 ms "
        "| non-200 (all rounds) | socket errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant, rows in by.items():
        out.append(
            f"| {variant} | {VARIANTS[variant]} | {med([r.rps for r in rows]):.1f} "
            f"| {med([r.p50_ms for r in rows]):.1f} | {med([r.p99_ms for r in rows]):.1f} "
            f"| {sum(r.non200 for r in rows)} | {sum(r.socket_errors + r.timeouts for r in rows)} |"
        )
    out += [
        "",
        f"Load: {report.client}, {args['concurrency']} keep-alive connections, "
        f"{args['warmup']:g} s warm-up then {args['duration']:g} s measured per variant and round; "
        f"server: gunicorn gthread, {args['workers']} workers x {args['threads']} threads; "
        f"{args['users']} users x {args['items']} content items, every pair pre-rated.",
        "",
        "Raw rounds (in the order they ran):",
        "",
        "| round | variant | ratings/s | 200s | non-200 | socket err | p50 ms | p90 ms "
        "| p99 ms | mean ms | jobs rows written* | jobs run by the worker* "
        "| PostgreSQL sessions opened* | ratings queue after | machine CPU busy | load1 before |",
        "|" + " ---: |" + " --- |" + " ---: |" * 14,
    ]
    for r in report.rounds:
        out.append(
            f"| {r.round} | {r.variant} | {r.rps:.1f} | {r.ok} | {r.non200} "
            f"| {r.socket_errors + r.timeouts} | {r.p50_ms:.1f} | {r.p90_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.mean_ms:.1f} | {r.jobs_written} | {r.jobs_succeeded} | {r.pg_sessions_opened} "
            f"| {r.queue_ready_after} | {r.cpu_busy_pct:.0f}% | {r.load1:.2f} |"
        )
    f = report.final
    leaked = sum(r.jobs_written for r in by.get("no-enqueue", []))
    if leaked:
        out += ["", f"**Check failed: the no-enqueue rounds wrote {leaked} jobs rows.**"]
    if report.args.get("redis_url"):
        out += ["", f"Servers ran with CBRTL_REDIS_URL={report.args['redis_url']}."]
    else:
        out += ["", "Servers ran without Redis (no CBRTL_REDIS_URL)."]
    if any(r.socket_errors for r in report.rounds):
        out += ["", "Socket errors by kind:", ""]
        out += [
            f"- round {r.round} {r.variant}: {r.socket_detail}"
            for r in report.rounds
            if r.socket_errors
        ]
    out += [
        "",
        "\\* during the warm-up plus the measured window (and the second after it). At the end: "
        f"{f.get('jobs')} jobs rows, {f.get('published')} marked published, "
        f"{f.get('succeeded')} succeeded (worker rounds), {f.get('queue_ready')} messages "
        "left in the `ratings` queue.",
        "",
        *machine_footer(report.machine, report.started),
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_args(parser, duration=20, warmup=3, concurrency=16)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--items", type=int, default=200, help="content items")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--with-worker",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure enqueue with a ratings worker draining the queue",
    )
    add_common_args(parser)
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.rounds < 1 or args.duration < 1:
        parser.error("--concurrency, --rounds and --duration must be positive")
    reports: list[Report] = []

    def body() -> str:
        reports.append(run(args))
        return markdown(reports[0])

    return guarded_main(args, body, lambda: asdict(reports[0]))


if __name__ == "__main__":
    sys.exit(main())
