#!/usr/bin/env python3
"""`cbrtl demo synth` at scale: how long, how much memory, how large the database.

    .venv/bin/python bench/synth_scale.py [--users 1000000] [--titles 100000]
        [--ratings 50000000] [--views-per-rating 0.5] [--seed 42] [--keep] [--json PATH]

On a throw-away PostgreSQL database `cbrtl_bench_<pid>` (dropped at the end unless
--keep): `cbrtl db upgrade`, then `cbrtl demo synth` as a child process whose peak RSS
and CPU come from wait4(2); then the database's and the large tables' sizes. Check
`df -h` first: 50M ratings with their views take about 20 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib

TABLES = ("ratings", "viewing_progress", "users", "content", "content_genres", "content_stats")
results: dict[str, Any] = {}


def run(args: argparse.Namespace) -> str:
    name, database_url, _ = benchlib.bench_names()
    url = database_url.replace("+psycopg2", "+psycopg")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBRTL_")}
    data_dir = tempfile.mkdtemp(prefix=f"{name}_")
    env.update(CBRTL_DATABASE_URL=url, CBRTL_DATA_DIR=data_dir, PYTHONUNBUFFERED="1")
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    machine = benchlib.machine_info()
    benchlib.create_database(name)
    try:
        benchlib.cbrtl(env, "db", "upgrade")
        argv = [sys.executable, "-m", "cli.main", "demo", "synth",
                "--users", str(args.users), "--titles", str(args.titles),
                "--ratings", str(args.ratings), "--seed", str(args.seed),
                "--views-per-rating", str(args.views_per_rating)]  # fmt: skip
        benchlib.log(f"synth: {' '.join(argv[3:])} into {name}")
        began = time.monotonic()
        child = subprocess.Popen(argv, env=env, cwd=benchlib.REPO, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - began
        out = (child.stdout.read() if child.stdout else "").strip()
        err = child.stderr.read() if child.stderr else ""
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"cbrtl demo synth failed:\n{err[-3000:]}")
        benchlib.log(out)
        conn = benchlib.pg_connect(database_url)
        try:
            with conn.cursor() as cur:
                sizes = {}
                for table in TABLES:
                    cur.execute("SELECT pg_total_relation_size(%s)", (table,))
                    sizes[table] = int(cur.fetchone()[0])
        finally:
            conn.close()
        total = int(benchlib.pg_admin(f"SELECT pg_database_size('{name}')")[0][0])
        results.update(
            summary=out, wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
            peak_rss_mib=usage.ru_maxrss / 1024, database_bytes=total, table_bytes=sizes,
            args={k: str(v) for k, v in vars(args).items()}, machine=machine, started=started,
        )  # fmt: skip
    finally:
        if args.keep:
            benchlib.log(f"kept {url}")
        else:
            benchlib.drop_database(name)
        shutil.rmtree(data_dir, ignore_errors=True)
    gib = 1024**3
    lines = [
        f"`{out}`",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| wall time | {wall:.0f} s |",
        f"| CPU of the cbrtl process | {results['cpu_s']:.0f} s |",
        f"| peak RSS of the cbrtl process | {results['peak_rss_mib']:.0f} MiB |",
        f"| database size | {total / gib:.2f} GiB |",
        *(f"| `{t}` with its indexes | {b / gib:.2f} GiB |" for t, b in sizes.items()),
        "",
        *benchlib.machine_footer(machine, started),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--titles", type=int, default=100_000)
    parser.add_argument("--ratings", type=int, default=50_000_000)
    parser.add_argument("--views-per-rating", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the database for more benches")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--cleanup-stale", action="store_true")
    args = parser.parse_args()
    return benchlib.guarded_main(args, lambda: run(args), lambda: results)


if __name__ == "__main__":
    sys.exit(main())
