#!/usr/bin/env python3
"""Rating aggregation lag under sustained rating load, and what aggregation costs.

    .venv/bin/python bench/aggregation_lag.py [--duration 30] [--concurrency 16]
                                              [--rounds 3] [--idle 20]

Production processes on one machine: gunicorn (`web.app:create_app()`, the
production settings module) and one ratings worker (the Procfile's `worker` line:
`celery --app workers.celery_app worker --queues ratings,default --concurrency 2
--prefetch-multiplier 4`), a throw-away PostgreSQL database `cbrtl_bench_<pid>` and a
RabbitMQ vhost of the same name.

Load: wrk (or, without wrk, a Python keep-alive client in a separate process) PUTs
ratings at a fixed concurrency with a random access token (one per load user),
content id and half-step score. Every (load user, content) pair is pre-rated, so the
load only ever updates ratings: the content's `rating_count` never moves because of
the load, which is what lets the probe see its own rating arrive.

Aggregation lag, measured by a probe: `--probes` threads of this process, each owning
a disjoint share of the same content items the load hits, repeat: PUT a rating by a
probe user who has not rated that item yet (a fresh (user, item) pair, so the
item's count must grow by one), take the time the 200 arrived, read the item's rating
count from the `ratings` table (the target), then poll `content_stats` in PostgreSQL
every `--poll-interval` until `rating_count` reaches the target. Lag = that moment
minus the 200's arrival (resolution: the poll interval plus one query). The probe's
rating joins the item's queued recompute when the load already queued one, exactly as
a real user's would. Also recorded: `content_stats.updated_at` (set by the worker just
before its commit) minus the 200's wall-clock time ("write lag", no polling error).
The jobs table gives a second view, per job rather than per rating: for the jobs that
finished in the window, the time from created_at (the first rating that made it) to
started_at (queue wait; later ratings joined it meanwhile) and to finished_at.

Variants, alternating, every round in this order:

* no-worker   the load with the worker stopped: ratings accepted per second without
              aggregation running. Once every item has a queued job, ratings join
              those and write no new job rows.
* worker      the worker starts and drains what no-worker left queued, then the same
              load with the probes running: ratings/s and lag under load.
* idle        the worker still running, the queue drained, no load: the probes alone
              (idle lag).

Everything it creates is removed at the end, also on an exception, Ctrl-C, SIGTERM or
SIGHUP (see bench/benchlib.py; `--cleanup-stale` removes what a SIGKILLed run left).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import select
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchlib import (
    LoadClient,
    Processes,
    add_common_args,
    add_load_args,
    bench_env,
    bench_names,
    bench_resources,
    cpu_busy_pct,
    cpu_ticks,
    drain_jobs,
    free_port,
    guarded_main,
    http_json,
    ignore_signals,
    log,
    log_problems,
    login_all,
    machine_footer,
    machine_info,
    med,
    pct,
    pg_connect,
    seed,
    start_gunicorn,
    start_worker,
    tail,
    wait_healthy,
)

VARIANTS = {
    "no-worker": "the rating load, worker stopped (no aggregation)",
    "worker": "the rating load + one ratings worker + the lag probes",
    "idle": "no load; one ratings worker + the lag probes",
}
RECOMPUTE = "ratings.recompute_stats"
CHANNEL = "bench_stats"
# Bench-only, in the throw-away database: every content_stats write NOTIFYs
# "content_id rating_count updated_at" when its transaction commits, so a probe learns
# the moment a recompute became visible without polling the database under load.
NOTIFY_TRIGGER = f"""
CREATE FUNCTION bench_stats_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{CHANNEL}', NEW.content_id || ' ' || NEW.rating_count || ' '
                    || extract(epoch FROM NEW.updated_at));
  RETURN NULL;
END $$;
CREATE TRIGGER bench_stats_notify AFTER INSERT OR UPDATE ON content_stats
  FOR EACH ROW EXECUTE FUNCTION bench_stats_notify();
"""


# --------------------------------------------------------------------------- probe


@dataclass
class ProbeResult:
    variant: str
    round: int
    content_id: int
    lag_s: float | None  # None: not seen within --probe-timeout
    write_lag_s: float | None
    put_ms: float
    after_window: bool  # still waiting when the window ended
    seen_by: str  # "notify" (the trigger's NOTIFY) or "poll" (the fallback query)


class PairSource:
    """Fresh (probe user, item) pairs for one probe thread, over the whole run."""

    def __init__(self, items: Sequence[int], users: int) -> None:
        self.items, self.users = list(items), users
        self.used = dict.fromkeys(self.items, 0)
        self.next_item = 0

    def take(self) -> tuple[int, int] | None:
        for _ in range(len(self.items)):
            item = self.items[self.next_item % len(self.items)]
            self.next_item += 1
            if self.used[item] < self.users:
                self.used[item] += 1
                return self.used[item] - 1, item
        return None


class Probe(threading.Thread):
    """Rate, then poll content_stats until the item's count reflects the rating."""

    def __init__(
        self,
        *,
        port: int,
        database_url: str,
        pairs: PairSource,
        tokens: list[str],
        args: argparse.Namespace,
        variant: str,
        round: int,
        window_end: threading.Event,
        out: list[ProbeResult],
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.database_url, self.pairs, self.tokens = port, database_url, pairs, tokens
        self.args, self.variant, self.round = args, variant, round
        self.window_end, self.out = window_end, out
        self.error: BaseException | None = None
        self.rng = random.Random()

    def run(self) -> None:
        try:
            conn = pg_connect(self.database_url)
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {CHANNEL}")
                    while not self.window_end.is_set():
                        if not self.one(conn, cur):
                            return
                        self.window_end.wait(self.rng.uniform(0, 2 * self.args.probe_pause))
            finally:
                conn.close()
        except BaseException as error:  # reported by the main thread
            self.error = error

    def one(self, conn: Any, cur: Any) -> bool:
        pair = self.pairs.take()
        if pair is None:
            log("probe: no fresh (user, item) pairs left; raise --probe-users")
            return False
        user, item = pair
        conn.poll()
        conn.notifies.clear()  # older news is about other items or lower counts
        t_send = time.monotonic()
        status, body = http_json(
            self.port,
            "PUT",
            f"/api/v1/content/{item}/rating",
            {"score": self.rng.choice([1.0, 2.5, 4.0, 5.0])},
            token=self.tokens[user],
        )
        t_ok, wall_ok = time.monotonic(), time.time()
        if status != 200:
            raise RuntimeError(f"probe PUT on {item}: HTTP {status} {body}")
        cur.execute("SELECT count(*) FROM ratings WHERE content_id = %s", (item,))
        (target,) = cur.fetchone()
        lag = write_lag = None
        seen_by = "-"
        next_poll = t_ok + self.args.fallback_poll
        while (now := time.monotonic()) - t_ok < self.args.probe_timeout:
            conn.poll()
            for note in conn.notifies:
                content_id, count, updated_at = note.payload.split()
                if int(content_id) == item and int(count) >= target:
                    lag, write_lag, seen_by = now - t_ok, float(updated_at) - wall_ok, "notify"
                    break
            conn.notifies.clear()
            if lag is not None:
                break
            if now >= next_poll:  # in case a notification never comes
                cur.execute(
                    "SELECT rating_count, extract(epoch FROM updated_at) FROM content_stats "
                    "WHERE content_id = %s",
                    (item,),
                )
                count, updated_at = cur.fetchone()
                if count >= target:
                    lag, write_lag, seen_by = now - t_ok, float(updated_at) - wall_ok, "poll"
                    break
                next_poll = now + self.args.fallback_poll
            select.select([conn], [], [], max(0.0, min(next_poll - time.monotonic(), 0.5)))
        self.out.append(
            ProbeResult(
                variant=self.variant,
                round=self.round,
                content_id=item,
                lag_s=lag,
                write_lag_s=write_lag,
                put_ms=(t_ok - t_send) * 1e3,
                after_window=self.window_end.is_set(),
                seen_by=seen_by,
            )
        )
        return True


class QueueSampler(threading.Thread):
    """Queued recompute jobs, once a second, while the window runs."""

    def __init__(self, database_url: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.database_url, self.stop = database_url, stop
        self.samples: list[int] = []

    def run(self) -> None:
        conn = pg_connect(self.database_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not self.stop.wait(1.0):
                    cur.execute(
                        "SELECT count(*) FROM jobs WHERE type = %s AND status = 'queued'",
                        (RECOMPUTE,),
                    )
                    self.samples.append(int(cur.fetchone()[0]))
        finally:
            conn.close()


# --------------------------------------------------------------------------- database views


def job_counts(database_url: str) -> dict[str, int]:
    conn = pg_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), "
                "count(*) FILTER (WHERE status IN ('queued', 'running')), "
                "count(*) FILTER (WHERE status IN ('failed', 'dead')), "
                "count(*) FILTER (WHERE published_at IS NULL) FROM jobs WHERE type = %s",
                (RECOMPUTE,),
            )
            jobs, succeeded, pending, failed, unpublished = cur.fetchone()
        return {
            "jobs": int(jobs),
            "succeeded": int(succeeded),
            "pending": int(pending),
            "failed": int(failed),
            "unpublished": int(unpublished),
        }
    finally:
        conn.close()


def job_timings(database_url: str, start: dt.datetime, end: dt.datetime) -> dict[str, float]:
    """Per job that finished in [start, end): queue wait, run time, publish delay (s)."""
    conn = pg_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                """
                SELECT count(*),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM w)),
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM w)),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r)),
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM r)),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t)),
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM t)),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM p))
                FROM (SELECT started_at - created_at AS w, finished_at - started_at AS r,
                             finished_at - created_at AS t, published_at - created_at AS p
                      FROM jobs WHERE type = %s AND status = 'succeeded'
                        AND finished_at >= %s AND finished_at < %s) AS j
                """,
                (RECOMPUTE, start, end),
            )
            row = cur.fetchone()
    finally:
        conn.close()
    keys = ["finished", "wait_p50", "wait_p95", "run_p50", "run_p95", "total_p50", "total_p95"]
    out = {k: float(v) if v is not None else float("nan") for k, v in zip(keys, row, strict=False)}
    out["publish_p50"] = float(row[7]) if row[7] is not None else float("nan")
    return out


def stats_mismatches(database_url: str) -> int:
    """Items whose content_stats disagree with the ratings table (after a drain)."""
    conn = pg_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                """
                SELECT count(*) FROM content_stats s
                LEFT JOIN (SELECT content_id, count(*) AS n, avg(score) AS m
                           FROM ratings GROUP BY content_id) r USING (content_id)
                WHERE s.rating_count <> coalesce(r.n, 0)
                   OR abs(coalesce(s.rating_mean, 0) - coalesce(r.m, 0)) > 1e-9
                """
            )
            return int(cur.fetchone()[0])
    finally:
        conn.close()


# --------------------------------------------------------------------------- the run


@dataclass
class RoundResult:
    round: int
    variant: str
    rps: float | None  # wrk's accepted ratings per second (None: idle)
    ok: int
    non200: int
    socket_errors: int
    p50_ms: float | None
    p99_ms: float | None
    probe_ratings: int
    jobs_created: int
    jobs_succeeded: int
    queued_median: float | None
    queued_max: int | None
    drain_s: float | None
    cpu_busy_pct: float
    load1: float
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Report:
    args: dict[str, Any]
    client: str
    started: str
    machine: dict[str, str]
    rounds: list[RoundResult] = field(default_factory=list)
    probes: list[ProbeResult] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)


class Bench:
    """The servers, clients and probes of one run, and its results."""

    def __init__(self, args: argparse.Namespace, report: Report) -> None:
        self.args, self.report = args, report
        self.procs = Processes()
        self.name, self.database_url, self.broker_url = bench_names()

    def run(self) -> Report:
        args = self.args
        try:
            with bench_resources(self.name, self.procs, args.logs) as workdir:
                self.workdir = workdir
                self.setup()
                for rnd in range(1, args.rounds + 1):
                    self.refresh_tokens()
                    self.measure(rnd, "no-worker")
                    worker = start_worker(self.procs, self.worker_env, workdir, self.broker_url)
                    try:
                        self.measure(rnd, "worker")
                        self.refresh_tokens()
                        self.measure(rnd, "idle")
                    finally:
                        self.procs.stop(worker, grace_s=30)
                self.finish()
        finally:
            ignore_signals()
            self.procs.stop_all()
        return self.report

    def setup(self) -> None:
        from db.migrate import upgrade

        args = self.args
        log("migrating")
        upgrade(self.database_url)
        log(
            f"seeding {args.users} load users, {args.probe_users} probe users, "
            f"{args.items} content items, {args.users * args.items} ratings"
        )
        self.emails, self.content_ids, self.probe_emails = seed(
            self.database_url, users=args.users, items=args.items, unrated_users=args.probe_users
        )
        conn = pg_connect(self.database_url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(NOTIFY_TRIGGER)
        finally:
            conn.close()
        self.port = free_port()

        self.worker_env = bench_env(args, self.database_url, self.broker_url, self.workdir, 1)
        self.server_log = self.workdir / "gunicorn.log"
        server = start_gunicorn(
            self.procs,
            "web",
            ["web.app:create_app()"],
            bench_env(args, self.database_url, self.broker_url, self.workdir, self.port),
            self.server_log,
        )
        wait_healthy(self.port, server, self.server_log)
        log(f"gunicorn ready on 127.0.0.1:{self.port} ({args.workers} x {args.threads} threads)")
        self.tokens_at = float("-inf")
        self.client: LoadClient | None = None
        self.pairs = [
            PairSource(self.content_ids[k :: args.probes], args.probe_users)
            for k in range(args.probes)
        ]

    def refresh_tokens(self) -> None:
        """Access tokens live 15 minutes: log everyone in again every 10."""
        if time.monotonic() - self.tokens_at < 600:
            return
        log(f"logging in {len(self.emails) + len(self.probe_emails)} users over HTTP")
        tokens = login_all(self.port, self.emails)
        self.probe_tokens = login_all(self.port, self.probe_emails)
        if self.client is None:
            self.client = LoadClient(
                self.report.client,
                self.procs,
                self.workdir,
                tokens,
                self.content_ids,
                self.args.concurrency,
            )
        else:
            self.client.set_tokens(tokens)
        self.tokens_at = time.monotonic()

    def measure(self, rnd: int, variant: str) -> None:
        args, client = self.args, self.client
        assert client is not None
        drain_s = (
            drain_jobs(self.database_url, args.drain_timeout, RECOMPUTE)
            if variant != "no-worker"
            else None
        )
        if variant != "idle":
            warm = client.run(self.port, args.warmup)
            if warm["ok"] == 0:
                raise RuntimeError(
                    f"{variant}: no 200 in the warm-up: {warm}\n{tail(self.server_log)}"
                )
        probes_out: list[ProbeResult] = []
        window_end = threading.Event()
        probes = []
        if variant != "no-worker":
            probes = [
                Probe(
                    port=self.port,
                    database_url=self.database_url,
                    pairs=pairs,
                    tokens=self.probe_tokens,
                    args=args,
                    variant=variant,
                    round=rnd,
                    window_end=window_end,
                    out=probes_out,
                )
                for pairs in self.pairs
            ]
        sampler = QueueSampler(self.database_url, window_end)
        before = job_counts(self.database_url)
        load1 = os.getloadavg()[0]
        cpu_before = cpu_ticks()
        start_wall = dt.datetime.now(dt.UTC)
        sampler.start()
        for probe in probes:
            probe.start()
        if variant == "idle":
            time.sleep(args.idle)
            res: dict[str, Any] = {}
        else:
            res = client.run(self.port, args.duration)
        window_end.set()
        end_wall = dt.datetime.now(dt.UTC)
        cpu_busy = cpu_busy_pct(cpu_before, cpu_ticks())
        for probe in probes:
            probe.join(args.probe_timeout + 30)
            if probe.error is not None:
                raise RuntimeError(f"probe failed: {probe.error!r}") from probe.error
        sampler.join(5)
        time.sleep(1)  # let requests still in flight commit before counting
        after = job_counts(self.database_url)
        timings = job_timings(self.database_url, start_wall, end_wall)
        samples = sampler.samples
        rr = RoundResult(
            round=rnd,
            variant=variant,
            rps=res["ok"] / res["elapsed_s"] if res else None,
            ok=res.get("ok", 0),
            non200=res.get("non200", 0),
            socket_errors=res.get("socket_errors", 0) + res.get("timeouts", 0),
            p50_ms=res.get("p50_ms"),
            p99_ms=res.get("p99_ms"),
            probe_ratings=len(probes_out),
            jobs_created=after["jobs"] - before["jobs"],
            jobs_succeeded=after["succeeded"] - before["succeeded"],
            queued_median=med(samples) if samples else None,
            queued_max=max(samples) if samples else None,
            drain_s=drain_s,
            cpu_busy_pct=cpu_busy,
            load1=load1,
            timings=timings,
        )
        self.report.rounds.append(rr)
        self.report.probes.extend(probes_out)
        lags = [p.lag_s for p in probes_out if p.lag_s is not None]
        lost = sum(p.lag_s is None for p in probes_out)
        log(
            f"round {rnd} {variant:9s} "
            + (f"{rr.rps:7.1f} ratings/s  p99 {rr.p99_ms:6.1f} ms  " if rr.rps is not None else "")
            + f"probes {len(lags)} lag p50 {pct(lags, 50) * 1e3:7.1f} ms "
            f"p95 {pct(lags, 95) * 1e3:7.1f} ms  not seen {lost}  "
            f"jobs +{rr.jobs_created} run +{rr.jobs_succeeded}  queued med {rr.queued_median} "
            f"max {rr.queued_max}  CPU {cpu_busy:.0f}%  load1 {load1:.2f}"
        )

    def finish(self) -> None:
        drain_jobs(
            self.database_url, self.args.drain_timeout, RECOMPUTE
        )  # the last idle variant drained it
        self.report.final = {
            **job_counts(self.database_url),
            "stats_mismatches": stats_mismatches(self.database_url),
            "server_log_problems": len(log_problems(self.server_log)),
            "worker_log_problems": len(log_problems(self.workdir / "worker.log")),
        }
        for path in (self.server_log, self.workdir / "worker.log"):
            problems = log_problems(path)
            if problems:
                log(
                    f"{path.name}: {len(problems)} warning/error lines, e.g.\n"
                    + "\n".join(problems[:5])
                )


# --------------------------------------------------------------------------- report


def ms(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value * 1e3:.0f}"


def markdown(report: Report) -> str:
    args = report.args
    by: dict[str, list[RoundResult]] = {}
    for r in report.rounds:
        by.setdefault(r.variant, []).append(r)
    probes: dict[str, list[ProbeResult]] = {}
    for p in report.probes:
        probes.setdefault(p.variant, []).append(p)

    def lags(variant: str, rnd: int | None = None, attr: str = "lag_s") -> list[float]:
        return [
            getattr(p, attr)
            for p in probes.get(variant, [])
            if getattr(p, attr) is not None and (rnd is None or p.round == rnd)
        ]

    def round_pct(variant: str, q: float) -> float:
        """Median over rounds of the per-round percentile."""
        return med([pct(lags(variant, r.round), q) for r in by.get(variant, [])])

    rps_w = med([r.rps for r in by.get("worker", []) if r.rps is not None])
    rps_n = med([r.rps for r in by.get("no-worker", []) if r.rps is not None])
    paired = [
        a.rps / b.rps
        for a, b in zip(by.get("worker", []), by.get("no-worker", []), strict=False)
        if a.rps and b.rps
    ]
    load50, idle50 = round_pct("worker", 50), round_pct("idle", 50)
    load95, idle95 = round_pct("worker", 95), round_pct("idle", 95)
    wrk_ok = sum(r.ok for r in by.get("worker", []))
    probe_n = sum(r.probe_ratings for r in by.get("worker", []))
    jobs_w = sum(r.jobs_created for r in by.get("worker", []))
    jobs_per_rating = jobs_w / (wrk_ok + probe_n) if wrk_ok + probe_n else float("nan")
    out = [
        "### Aggregation lag and ratings/s with and without the worker",
        "",
        f"**Lag under load p50 {ms(load50)} ms / p95 {ms(load95)} ms vs idle p50 {ms(idle50)} ms "
        f"/ p95 {ms(idle95)} ms: ratios {load50 / idle50:.1f}x (p50) and {load95 / idle95:.1f}x "
        f"(p95).** Ratings accepted with the worker running {rps_w:.0f}/s vs {rps_n:.0f}/s with it "
        f"stopped: ratio {rps_w / rps_n:.2f} (per-round ratios "
        f"{', '.join(f'{x:.2f}' for x in paired)}). Under load the coalescing made "
        f"{jobs_per_rating:.3f} recompute jobs per accepted rating "
        f"({jobs_w} jobs for {wrk_ok + probe_n} ratings, about {1 / jobs_per_rating:.0f} "
        "ratings per job).",
        "",
        "Lag figures are the median over rounds of each round's percentile; pooled over all "
        "rounds they are in the probe table below.",
        "",
        "| variant | what runs | ratings/s (median) | PUT p50 ms | PUT p99 ms | probes "
        "| lag p50 ms | lag p95 ms | lag max ms | jobs per rating | queued jobs (median / max) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant, rows in by.items():
        rated = sum(r.ok + r.probe_ratings for r in rows)
        jobs = sum(r.jobs_created for r in rows)
        all_lags = lags(variant)
        rps = [r.rps for r in rows if r.rps is not None]
        p50s = [r.p50_ms for r in rows if r.p50_ms is not None]
        p99s = [r.p99_ms for r in rows if r.p99_ms is not None]
        out.append(
            f"| {variant} | {VARIANTS[variant]} | {f'{med(rps):.1f}' if rps else '-'} "
            f"| {f'{med(p50s):.0f}' if p50s else '-'} | {f'{med(p99s):.0f}' if p99s else '-'} "
            f"| {len(all_lags)} | {ms(round_pct(variant, 50)) if all_lags else '-'} "
            f"| {ms(round_pct(variant, 95)) if all_lags else '-'} "
            f"| {ms(max(all_lags)) if all_lags else '-'} "
            f"| {jobs / rated if rated else float('nan'):.3f} "
            f"| {med([r.queued_median for r in rows if r.queued_median is not None]):.0f} / "
            f"{max((r.queued_max or 0) for r in rows)} |"
        )
    out += [
        "",
        "Probe lags pooled over all rounds (ms):",
        "",
        "| variant | probes | not seen | finished after the window | lag p50 | lag p95 | lag p99 "
        "| write lag p50 | write lag p95 | probe PUT p50 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for variant in ("worker", "idle"):
        plist = probes.get(variant, [])
        lag, wl = lags(variant), lags(variant, attr="write_lag_s")
        out.append(
            f"| {variant} | {len(plist)} | {sum(p.lag_s is None for p in plist)} "
            f"| {sum(p.after_window for p in plist)} | {ms(pct(lag, 50))} | {ms(pct(lag, 95))} "
            f"| {ms(pct(lag, 99))} | {ms(pct(wl, 50))} | {ms(pct(wl, 95))} "
            f"| {med([p.put_ms for p in plist]):.0f} |"
        )
    out += [
        "",
        "Raw rounds (in the order they ran); job timings are per recompute job that finished in "
        "the window, from the jobs table (ms):",
        "",
        "| round | variant | ratings/s | 200s | non-200 | socket err | PUT p50 | PUT p99 "
        "| probes | lag p50 | lag p95 | jobs created | jobs run | job wait p50 | job wait p95 "
        "| job run p50 | job run p95 | queued med / max | drain before s | CPU busy | load1 |",
        "|" + " ---: |" + " --- |" + " ---: |" * 19,
    ]
    for r in report.rounds:
        t = r.timings
        lag = lags(r.variant, r.round)
        out.append(
            f"| {r.round} | {r.variant} | {f'{r.rps:.1f}' if r.rps is not None else '-'} "
            f"| {r.ok} | {r.non200} | {r.socket_errors} "
            f"| {f'{r.p50_ms:.0f}' if r.p50_ms is not None else '-'} "
            f"| {f'{r.p99_ms:.0f}' if r.p99_ms is not None else '-'} "
            f"| {len(lag)} | {ms(pct(lag, 50))} | {ms(pct(lag, 95))} "
            f"| {r.jobs_created} | {r.jobs_succeeded} | {ms(t.get('wait_p50'))} "
            f"| {ms(t.get('wait_p95'))} | {ms(t.get('run_p50'))} | {ms(t.get('run_p95'))} "
            f"| {r.queued_median if r.queued_median is not None else '-'} / {r.queued_max} "
            f"| {f'{r.drain_s:.1f}' if r.drain_s is not None else '-'} "
            f"| {r.cpu_busy_pct:.0f}% | {r.load1:.2f} |"
        )
    f = report.final
    out += [
        "",
        f"Load: {report.client}, {args['concurrency']} keep-alive connections, "
        f"{args['warmup']:g} s warm-up then {args['duration']:g} s measured (idle: "
        f"{args['idle']:g} s); server: gunicorn gthread, {args['workers']} workers x "
        f"{args['threads']} threads; {args['users']} load users x {args['items']} items, every "
        f"pair pre-rated; {args['probes']} probe threads, {args['probe_users']} probe users, "
        f"pause 0-{2 * args['probe_pause']:g} s between probes; a probe sees the recompute by "
        f"a NOTIFY from a bench-only trigger on content_stats (fallback query every "
        f"{args['fallback_poll']:g} s; seen by the fallback: "
        f"{sum(p.seen_by == 'poll' for p in report.probes)}). "
        + ("Servers ran without Redis." if not args.get("redis_url") else "Servers used Redis."),
        "",
        f"At the end, after draining: {f.get('jobs')} recompute jobs, {f.get('succeeded')} "
        f"succeeded, {f.get('failed')} failed or dead, {f.get('unpublished')} never published; "
        f"{f.get('stats_mismatches')} items whose content_stats differ from the ratings table; "
        f"warning/error lines: server {f.get('server_log_problems')}, worker "
        f"{f.get('worker_log_problems')}.",
        "",
        *machine_footer(report.machine, report.started),
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_load_args(parser, duration=30, warmup=5, concurrency=16)
    parser.add_argument("--idle", type=float, default=20, help="seconds of the idle variant")
    parser.add_argument("--users", type=int, default=50, help="load users")
    parser.add_argument("--items", type=int, default=200, help="content items")
    parser.add_argument("--probes", type=int, default=2, help="concurrent probe threads")
    parser.add_argument("--probe-users", type=int, default=30, help="users that only probe")
    parser.add_argument(
        "--probe-pause", type=float, default=0.25, help="mean pause between probes (s)"
    )
    parser.add_argument(
        "--fallback-poll",
        type=float,
        default=0.5,
        help="seconds between content_stats queries while waiting for the NOTIFY",
    )
    parser.add_argument("--probe-timeout", type=float, default=60, help="give up a probe (s)")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=600,
        help="seconds to wait for the queue to drain before the worker and idle variants",
    )
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    add_common_args(parser)
    args = parser.parse_args(argv)
    if min(args.concurrency, args.rounds, args.duration, args.probes, args.probe_users) <= 0:
        parser.error("--concurrency, --rounds, --duration, --probes and --probe-users > 0")
    if args.probes > args.items:
        parser.error("--probes must not exceed --items")
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    report = Report(
        args=dict(vars(args)),
        client=client,
        started=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=machine_info(),
    )

    def body() -> str:
        return markdown(Bench(args, report).run())

    return guarded_main(args, body, lambda: asdict(report))


if __name__ == "__main__":
    sys.exit(main())
