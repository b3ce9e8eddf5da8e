#!/usr/bin/env python3
"""Catalogue list latency on 100,000 titles, against /healthz and the detail page.

    .venv/bin/python bench/catalogue_latency.py [--rows 100000] [--duration 10]
                                                [--concurrency 8] [--rounds 3]

Set-up: a throw-away PostgreSQL database `cbrtl_bench_<pid>` (migrated with
db.migrate.upgrade; a RabbitMQ vhost of the same name for the app's broker URL),
filled in SQL with INSERT ... SELECT generate_series: `--rows` content rows (titles
of two or three words from fixed lists, a rare word in 0.1% of them; created_at
spread over ten years in id order), genres drawn with MovieLens-like frequencies
(Drama ~45%, Comedy ~35%, ...), and one content_stats row each with Zipf-like
rating counts (count = floor(60000 / rank), so ~40% of titles have none and the top
one has 60,000) and means around 3.4 that spread more when the count is small; the
Bayesian mean uses the app's prior weight (10) and a global mean of 3.5. No ratings
rows: anonymous list and detail requests read content_stats, never ratings. Then
VACUUM ANALYZE.

Load: `wrk` (required), one thread, `--concurrency` keep-alive connections, anonymous
GETs against gunicorn (`web.app:create_app()`, the production settings module). Each
endpoint gets a warm-up, then a timed window; every round visits every endpoint, in an
order rotated by one each round; the figures are medians over rounds, and each is set
against /healthz measured in the same rounds.

The SQL behind each list request is captured with a SQLAlchemy `before_cursor_execute`
listener while db.services.content.list_content runs with the same arguments as the
endpoint, then run again under EXPLAIN (ANALYZE, BUFFERS) with the same parameters.

Everything it creates is removed at the end, also on an exception, Ctrl-C, SIGTERM or
SIGHUP (see bench/benchlib.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchlib import (
    WRK_GET,
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
    http_json,
    ignore_signals,
    log,
    log_problems,
    machine_footer,
    machine_info,
    med,
    pg_connect,
    run_client,
    start_gunicorn,
    vacuum_analyze,
    wait_healthy,
    wrk_argv,
)

# fmt: off
ADJECTIVES = (
    "silent", "dark", "golden", "broken", "hidden", "last", "lost", "little", "wild", "bright",
    "cold", "distant", "endless", "fallen", "frozen", "gentle", "hollow", "iron", "lonely",
    "midnight", "northern", "painted", "quiet", "red", "restless", "secret", "shining", "silver",
    "stolen", "strange", "sudden", "sweet", "twisted", "velvet", "wandering", "white", "wicked",
    "winter", "young", "burning", "crimson",
)
NOUNS = (
    "river", "night", "city", "garden", "house", "road", "star", "mountain", "ocean", "forest",
    "dream", "shadow", "storm", "heart", "kingdom", "island", "summer", "letter", "mirror",
    "promise", "journey", "harbor", "empire", "circus", "train", "bridge", "voice", "crown",
    "window", "fire", "stranger", "rain", "valley", "desert", "song", "season", "border",
    "horizon", "orchard", "machine", "angel", "witness", "signal", "tide", "carnival",
)
# fmt: on
RARE = "lighthouse"
COMMON = "silent"  # one adjective of 41: in ~2.4% of titles
GENRE_WEIGHTS = {
    "Drama": 0.45, "Comedy": 0.35, "Thriller": 0.20, "Action": 0.18, "Romance": 0.17,
    "Adventure": 0.12, "Crime": 0.12, "Horror": 0.09, "Sci-Fi": 0.08, "Children's": 0.06,
    "Mystery": 0.06, "Fantasy": 0.05, "Documentary": 0.05, "War": 0.04, "Animation": 0.04,
    "Musical": 0.03, "Western": 0.02, "Film-Noir": 0.01, "IMAX": 0.01,
}  # fmt: skip


def quote(text: str) -> str:
    """A SQL string literal (for the module's own constants)."""
    return "'" + text.replace("'", "''") + "'"


def seed_sql(rows: int) -> list[str]:
    """The seeding statements. Built from this module's constants and an int only."""
    adjectives = "ARRAY[" + ", ".join(quote(w) for w in ADJECTIVES) + "]"
    nouns = "ARRAY[" + ", ".join(quote(w) for w in NOUNS) + "]"
    weights = ", ".join(f"({quote(name)}, {w})" for name, w in GENRE_WEIGHTS.items())
    pick = "({a})[1 + floor(random() * array_length({a}, 1))::int]"
    normal = "(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))"
    return [
        "SELECT setseed(0.42)",
        f"""
        INSERT INTO content (title, description, release_year, duration_s, created_at, updated_at)
        SELECT initcap({pick.format(a=adjectives)} || ' ' || {pick.format(a=nouns)}
                       || CASE WHEN random() < 0.33 THEN ' of the ' || {pick.format(a=nouns)}
                               ELSE '' END
                       || CASE WHEN random() < 0.001 THEN ' {RARE}' ELSE '' END),
               'A film.', 1920 + floor(random() * 105)::int, 600 + floor(random() * 7200),
               ts, ts
        FROM (SELECT i, now() - ({rows} - i) * interval '3153 seconds'
                        - random() * interval '3000 seconds' AS ts
              FROM generate_series(1, {rows}) AS i) AS s
        """,  # noqa: S608 (constants of this module)
        f"""
        INSERT INTO content_genres (content_id, genre_id)
        SELECT c.id, g.id FROM content c
        CROSS JOIN (SELECT g.id, w.weight FROM genres g
                    JOIN (VALUES {weights}) AS w(name, weight) ON w.name = g.name) AS g
        WHERE random() + 0 * c.id < g.weight  -- per pair: c.id keeps it out of the VALUES scan
        """,  # noqa: S608 (constants of this module)
        f"""
        INSERT INTO content_stats (content_id, rating_count, rating_mean, rating_bayesian,
                                   updated_at)
        SELECT id, n, m, CASE WHEN n > 0 THEN (10 * 3.5 + m * n) / (10 + n) END, now()
        FROM (SELECT id, n,
                     CASE WHEN n > 0 THEN least(5.0, greatest(0.5,
                         3.4 + 0.45 * {normal} + 0.9 * {normal} / sqrt(n))) END AS m
              FROM (SELECT id, floor(60000.0 / row_number() OVER (ORDER BY random()))::int AS n
                    FROM content) AS ranked) AS s
        """,  # noqa: S608 (constants of this module)
    ]


def seed(database_url: str, rows: int) -> dict[str, Any]:
    conn = pg_connect(database_url)
    try:
        with conn, conn.cursor() as cur:
            for sql in seed_sql(rows):
                cur.execute(sql)
            cur.execute(
                "SELECT (SELECT count(*) FROM content), (SELECT count(*) FROM content_genres), "
                "(SELECT count(*) FROM content_stats WHERE rating_count = 0), "
                "(SELECT max(rating_count) FROM content_stats), "
                "(SELECT sum(rating_count) FROM content_stats), "
                "(SELECT min(id) FROM content), (SELECT max(id) FROM content)"
            )
            content, genres, unrated, top, total, lo, hi = cur.fetchone()
            cur.execute(
                "SELECT count(*) FROM content_genres cg JOIN genres g ON g.id = cg.genre_id "
                "WHERE g.name = 'Drama'"
            )
            (drama,) = cur.fetchone()
            cur.execute(
                "SELECT count(*) FILTER (WHERE lower(title) LIKE %s), "
                "count(*) FILTER (WHERE lower(title) LIKE %s) FROM content",
                (f"%{COMMON}%", f"%{RARE}%"),
            )
            common, rare = cur.fetchone()
    finally:
        conn.close()
    vacuum_analyze(database_url)
    return {
        "content": int(content),
        "content_genres": int(genres),
        "drama": int(drama),
        "unrated": int(unrated),
        "top_count": int(top),
        "implied_ratings": int(total),
        "q_common_matches": int(common),
        "q_rare_matches": int(rare),
        "min_id": int(lo),
        "max_id": int(hi),
        "table_sizes": table_sizes(database_url),
    }


def table_sizes(database_url: str) -> str:
    conn = pg_connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
                "WHERE relname IN ('content', 'content_stats', 'content_genres') ORDER BY relname"
            )
            return ", ".join(f"{name} {size}" for name, size in cur.fetchall())
    finally:
        conn.close()


# --------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class Endpoint:
    name: str
    paths: tuple[str, ...]
    list_args: dict[str, Any] | None = None  # list_content(**list_args) for EXPLAIN


def endpoints(args: argparse.Namespace, min_id: int, max_id: int) -> list[Endpoint]:
    rng = random.Random(7)
    ids = tuple(f"/api/v1/content/{rng.randint(min_id, max_id)}" for _ in range(2000))
    base = "/api/v1/content"
    return [
        Endpoint("GET /healthz", ("/healthz",)),
        Endpoint("GET /content/{id}", ids),
        Endpoint("sort=popular", (f"{base}?sort=popular",), {"sort": "popular"}),
        Endpoint(
            f"sort=popular&page={args.deep_page}",
            (f"{base}?sort=popular&page={args.deep_page}",),
            {"sort": "popular", "page": args.deep_page},
        ),
        Endpoint("sort=rating", (f"{base}?sort=rating",), {"sort": "rating"}),
        Endpoint("sort=newest", (f"{base}?sort=newest",), {"sort": "newest"}),
        Endpoint(
            "genre=Drama&sort=popular",
            (f"{base}?genre=Drama&sort=popular",),
            {"genre": "Drama", "sort": "popular"},
        ),
        Endpoint(f"q={COMMON}", (f"{base}?q={COMMON}",), {"q": COMMON}),
        Endpoint(f"q={RARE}", (f"{base}?q={RARE}",), {"q": RARE}),
    ]


# --------------------------------------------------------------------------- EXPLAIN

KEY_LINE = re.compile(
    r"Scan|Limit|Sort|Join|Nested Loop|Aggregate|Hash|Filter|Index Cond|Recheck|Buffers: shared|"
    r"Rows Removed|Execution Time|Planning Time|SubPlan|Materialize|Unique|Gather"
)


def captured_sql(database_url: str, list_args: dict[str, Any]) -> list[tuple[str, Any]]:
    """The statements list_content sends to PostgreSQL, with their parameters."""
    from sqlalchemy import event

    from db.engine import make_engine, make_session_factory
    from db.services.content import list_content

    engine = make_engine(database_url)
    seen: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        with make_session_factory(engine)() as session:
            list_content(session=session, **list_args)  # ids: documents are a read model
    finally:
        engine.dispose()
    return seen


def explain(database_url: str, list_args: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    conn = pg_connect(database_url)
    try:
        with conn.cursor() as cur:
            for statement, params in captured_sql(database_url, list_args):
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                plan = [row[0] for row in cur.fetchall()]
                ms = re.search(r"Execution Time: ([\d.]+) ms", "\n".join(plan))
                out.append(
                    {
                        "sql": cur.mogrify(statement, params).decode(),
                        "plan": plan,
                        "execution_ms": float(ms.group(1)) if ms else float("nan"),
                    }
                )
            conn.rollback()
    finally:
        conn.close()
    return out


# What-ifs, run in the throw-away database after everything else (never in production):
# the unfiltered total without the join (every content row has exactly one stats row),
# and sort=rating once the index migration 0003 created (and 0004 dropped) exists again.
WHAT_IF_COUNT = "SELECT count(*) FROM content"
WHAT_IF_INDEX = (
    "CREATE INDEX bench_content_stats_bayesian ON content_stats "
    "(rating_bayesian DESC NULLS LAST, content_id)"
)


def what_if(database_url: str, rating_statements: list[dict[str, Any]]) -> dict[str, Any]:
    rows_sql = next(st["sql"] for st in rating_statements if "ORDER BY" in st["sql"])
    out: dict[str, Any] = {}
    conn = pg_connect(database_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for key, sql in (("count_content_only", WHAT_IF_COUNT), ("rating_with_index", None)):
                if sql is None:
                    cur.execute(WHAT_IF_INDEX)
                    cur.execute("ANALYZE content_stats")
                    sql = rows_sql
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = [row[0] for row in cur.fetchall()]
                ms = re.search(r"Execution Time: ([\d.]+) ms", "\n".join(plan))
                out[key] = {
                    "sql": sql,
                    "plan": plan,
                    "execution_ms": float(ms.group(1)) if ms else float("nan"),
                }
    finally:
        conn.close()
    return out


def key_lines(plan: Sequence[str], limit: int = 18) -> list[str]:
    lines = [line for line in plan if KEY_LINE.search(line)]
    return lines[:limit] + (["  ..."] if len(lines) > limit else [])


# --------------------------------------------------------------------------- the run


@dataclass
class Sample:
    round: int
    endpoint: str
    rps: float
    ok: int
    non200: int
    last_non200_status: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu_busy_pct: float
    load1: float


@dataclass
class Report:
    args: dict[str, Any]
    started: str
    machine: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    plans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    what_if: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] = field(default_factory=dict)


def run(args: argparse.Namespace, report: Report) -> Report:
    name, database_url, broker_url = bench_names()
    procs = Processes()
    try:
        with bench_resources(name, procs, args.logs) as workdir:
            from db.migrate import upgrade

            log("migrating")
            upgrade(database_url)
            log(f"seeding {args.rows} content rows in SQL")
            t0 = time.monotonic()
            report.data = seed(database_url, args.rows)
            report.data["seed_s"] = round(time.monotonic() - t0, 1)
            log(f"seeded in {report.data['seed_s']} s: {report.data}")

            port = free_port()
            env = bench_env(args, database_url, broker_url, workdir, port)
            server_log = workdir / "gunicorn.log"
            server = start_gunicorn(procs, "web", ["web.app:create_app()"], env, server_log)
            wait_healthy(port, server, server_log)
            log(f"gunicorn ready on 127.0.0.1:{port} ({args.workers} x {args.threads} threads)")

            eps = endpoints(args, report.data["min_id"], report.data["max_id"])
            script = workdir / "get.lua"
            script.write_text(WRK_GET)
            files = {}
            for i, ep in enumerate(eps):
                status, body = http_json(port, "GET", ep.paths[0])
                if status != 200:
                    raise RuntimeError(f"{ep.name}: HTTP {status} {body}")
                if isinstance(body, dict) and "total" in body:
                    report.totals[ep.name] = body["total"]
                files[ep.name] = workdir / f"paths-{i}.txt"
                files[ep.name].write_text("".join(p + "\n" for p in ep.paths))
            log(f"list totals: {report.totals}")

            for rnd in range(1, args.rounds + 1):
                shift = (rnd - 1) % len(eps)
                for ep in eps[shift:] + eps[:shift]:

                    def load(seconds: float, paths: Path = files[ep.name]) -> dict[str, Any]:
                        argv = wrk_argv(
                            port,
                            concurrency=args.concurrency,
                            seconds=seconds,
                            script=script,
                            script_args=[str(paths)],
                        )
                        return run_client(procs, "wrk", argv, seconds, dict(os.environ))

                    warm = load(args.warmup)
                    if warm["ok"] == 0:
                        raise RuntimeError(f"{ep.name}: no 200 in the warm-up: {warm}")
                    load1 = os.getloadavg()[0]
                    cpu_before = cpu_ticks()
                    res = load(args.duration)
                    sample = Sample(
                        round=rnd,
                        endpoint=ep.name,
                        rps=res["ok"] / res["elapsed_s"],
                        ok=res["ok"],
                        non200=res["non200"],
                        last_non200_status=res["last_non200_status"],
                        socket_errors=res["socket_errors"] + res["timeouts"],
                        p50_ms=res["p50_ms"],
                        p90_ms=res["p90_ms"],
                        p99_ms=res["p99_ms"],
                        max_ms=res["max_ms"],
                        cpu_busy_pct=cpu_busy_pct(cpu_before, cpu_ticks()),
                        load1=load1,
                    )
                    report.samples.append(sample)
                    log(
                        f"round {rnd} {ep.name:28s} {sample.rps:8.1f} req/s  p50 "
                        f"{sample.p50_ms:7.1f} ms  p99 {sample.p99_ms:7.1f} ms  non-200 "
                        f"{sample.non200}  socket errors {sample.socket_errors}  CPU "
                        f"{sample.cpu_busy_pct:.0f}%  load1 {load1:.2f}"
                    )

            log("EXPLAIN (ANALYZE, BUFFERS) of the list queries")
            for ep in eps:
                if ep.list_args is not None:
                    report.plans[ep.name] = explain(database_url, ep.list_args)
            report.what_if = what_if(database_url, report.plans["sort=rating"])
            problems = log_problems(server_log)
            report.final["server_log_problems"] = len(problems)
            if problems:
                log("server log problems, e.g.:\n" + "\n".join(problems[:5]))
    finally:
        ignore_signals()
        procs.stop_all()
    return report


# --------------------------------------------------------------------------- report


def markdown(report: Report) -> str:
    args, data = report.args, report.data
    by: dict[str, list[Sample]] = {}
    for s in report.samples:
        by.setdefault(s.endpoint, []).append(s)
    base = by.get("GET /healthz", [])
    base50, base99 = med([s.p50_ms for s in base]), med([s.p99_ms for s in base])
    detail = by.get("GET /content/{id}", [])
    det50 = med([s.p50_ms for s in detail])

    def per_round_ratio(rows: list[Sample]) -> float:
        pairs = {s.round: s.p50_ms for s in base}
        return med([s.p50_ms / pairs[s.round] for s in rows if pairs.get(s.round)])

    out = [
        f"### Catalogue list latency at {data.get('content')} titles",
        "",
        f"wrk, {args['concurrency']} keep-alive connections, {args['warmup']:g} s warm-up then "
        f"{args['duration']:g} s per endpoint and round, {args['rounds']} rounds (order rotated "
        f"each round); gunicorn gthread {args['workers']} workers x {args['threads']} threads; "
        "anonymous GETs, per_page 20. Medians over rounds; ratios against `GET /healthz` and "
        "`GET /content/{id}` of the same run (and the median of the per-round ratios to /healthz).",
        "",
        "| endpoint | matching rows (total) | req/s | p50 ms | p99 ms | p50 / healthz p50 "
        "| per-round p50 ratio | p99 / healthz p99 | p50 / detail p50 | non-200 | socket errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, rows in by.items():
        p50, p99 = med([s.p50_ms for s in rows]), med([s.p99_ms for s in rows])
        out.append(
            f"| `{name}` | {report.totals.get(name, '-')} | {med([s.rps for s in rows]):.1f} "
            f"| {p50:.1f} | {p99:.1f} | {p50 / base50:.1f} | {per_round_ratio(rows):.1f} "
            f"| {p99 / base99:.1f} | {p50 / det50:.1f} | {sum(s.non200 for s in rows)} "
            f"| {sum(s.socket_errors for s in rows)} |"
        )
    out += [
        "",
        "Raw samples (in the order they ran):",
        "",
        "| round | endpoint | req/s | p50 ms | p90 ms | p99 ms | max ms | CPU busy | load1 |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in report.samples:
        out.append(
            f"| {s.round} | `{s.endpoint}` | {s.rps:.1f} | {s.p50_ms:.1f} | {s.p90_ms:.1f} "
            f"| {s.p99_ms:.1f} | {s.max_ms:.1f} | {s.cpu_busy_pct:.0f}% | {s.load1:.2f} |"
        )
    out += [
        "",
        f"Data: {data.get('content')} content rows ({data.get('table_sizes')}), "
        f"{data.get('content_genres')} genre links ({data.get('drama')} Drama), "
        f"{data.get('unrated')} titles without ratings, top count {data.get('top_count')}, "
        f"{data.get('implied_ratings')} ratings implied by the counts (no ratings rows); "
        f"`q={COMMON}` matches {data.get('q_common_matches')} titles, `q={RARE}` "
        f"{data.get('q_rare_matches')}; seeded in {data.get('seed_s')} s.",
        "",
        "EXPLAIN (ANALYZE, BUFFERS), after the load (warm cache), of each statement "
        "list_content sends, key lines:",
    ]
    for name, statements in report.plans.items():
        total = sum(st["execution_ms"] for st in statements)
        out += ["", f"`{name}`: {len(statements)} statements, {total:.1f} ms execution in all", ""]
        for st in statements:
            sql = " ".join(st["sql"].split())
            out += ["```", sql[:400] + (" ..." if len(sql) > 400 else "")]
            out += [*key_lines(st["plan"]), "```"]
    if report.what_if:
        out += [
            "",
            "What-if, in the throw-away database after the load (not production code): "
            f"`{WHAT_IF_COUNT}`, and the `sort=rating` rows statement again after "
            f"`{WHAT_IF_INDEX}`:",
        ]
        for key, st in report.what_if.items():
            out += ["", f"{key}: {st['execution_ms']:.1f} ms", "```", *key_lines(st["plan"]), "```"]
    out += [
        "",
        f"Server log warning/error lines: {report.final.get('server_log_problems')}.",
        "",
        *machine_footer(report.machine, report.started),
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="content rows")
    add_load_args(parser, duration=10, warmup=2, concurrency=8)
    parser.add_argument("--deep-page", type=int, default=500, help="the deep page of popular")
    add_common_args(parser)
    args = parser.parse_args(argv)
    if min(args.rows, args.duration, args.concurrency, args.rounds, args.deep_page) <= 0:
        parser.error("--rows, --duration, --concurrency, --rounds and --deep-page must be > 0")
    if not shutil.which("wrk"):
        parser.error("wrk is required (apt-get install -y wrk)")
    report = Report(
        args=dict(vars(args)),
        started=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=machine_info(),
    )

    def body() -> str:
        return markdown(run(args, report))

    return guarded_main(args, body, lambda: asdict(report))


if __name__ == "__main__":
    sys.exit(main())
