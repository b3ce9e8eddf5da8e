#!/usr/bin/env python3
"""How long `cbrtl import movielens` takes on PostgreSQL, against a plain COPY.

    .venv/bin/python bench/import_movielens.py [--dataset DIR] [--rounds 3]
                                               [--synthetic-ratings 1000000] [--append FILE]

Each round, on a fresh throw-away database migrated with db.migrate.upgrade:

* baseline   psycopg2 COPY of the ratings file into an unindexed scratch table with
             the file's four columns, then commit: the floor any import pays to get
             the bytes into PostgreSQL.
* import     `cbrtl import movielens DIR` as a subprocess (the real CLI code path),
             wall-clock from spawn to exit; its rows are then counted.
* re-import  the same command again: nothing changes, everything is compared.

Baseline and import alternate within each round; figures are medians of the
rounds. Then, once, a synthetic ml-latest folder of --synthetic-ratings ratings
(written by `cbrtl demo export-movielens`) is imported the same way, with its own
COPY baseline. Every database and temporary folder is removed at the end, also on
an error, Ctrl-C or SIGTERM. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import FrameType

import psycopg2
from benchlib import ML100K_DIR

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# Measure the checkout this script sits in; the CLI children get the same path.
sys.path.insert(0, str(REPO))
from db.migrate import upgrade  # noqa: E402 - from this checkout, hence after the path

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
PREFIX = "cbrtl_bench_import_"
CBRTL = Path(sys.executable).parent / "cbrtl"
TARGET_S = 30.0
DEFAULT_DATASET = str(ML100K_DIR)


@dataclass
class Layout:
    ratings_file: str
    copy_options: str  # how COPY reads the ratings file
    expected: tuple[int, int, int] | None  # titles, users, ratings after the import


ML_100K = Layout("u.data", "(FORMAT text, DELIMITER E'\\t')", (1682, 943, 100_000))
ML_LATEST = Layout("ratings.csv", "(FORMAT csv, HEADER true)", None)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def admin() -> psycopg2.extensions.connection:
    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    return conn


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A new migrated database; its name, dropped on the way out."""
    name = f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with closing(admin()) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{name}")
        yield name
    finally:
        with closing(admin()) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def url(name: str) -> str:
    return f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


def baseline_copy(name: str, path: Path, layout: Layout) -> float:
    """Seconds for COPY of the ratings file into a fresh unindexed table, commit included."""
    with closing(psycopg2.connect(dbname=name, **PG)) as conn:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS scratch_ratings")
            cur.execute("CREATE TABLE scratch_ratings (u bigint, i bigint, r real, t bigint)")
        conn.commit()
        with path.open("rb") as handle, conn.cursor() as cur:
            started = time.perf_counter()
            cur.copy_expert(f"COPY scratch_ratings FROM STDIN WITH {layout.copy_options}", handle)
            conn.commit()
            elapsed = time.perf_counter() - started
            cur.execute("SELECT count(*) FROM scratch_ratings")
            log(f"  baseline COPY: {cur.fetchone()[0]} rows in {elapsed:.2f} s")
            cur.execute("DROP TABLE scratch_ratings")
        conn.commit()
    return elapsed


@dataclass
class ImportRun:
    wall_s: float
    reported_s: float  # what the command printed: its own work, without interpreter start
    summary: str


def run_import(name: str, folder: Path, data_dir: Path) -> ImportRun:
    env = {
        **os.environ,
        "CBRTL_DATABASE_URL": url(name),
        "CBRTL_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(REPO),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [str(CBRTL), "import", "movielens", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"import failed: {done.stderr.strip()}")
    summary = done.stdout.strip()
    reported = float(re.search(r" in ([0-9.]+) s$", summary).group(1))  # type: ignore[union-attr]
    log(f"  import: {wall:.2f} s wall; {summary}")
    return ImportRun(wall, reported, summary)


def counts(name: str) -> tuple[int, int, int]:
    with closing(psycopg2.connect(dbname=name, **PG)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM content), (SELECT count(*) FROM users), "
            "(SELECT count(*) FROM ratings)"
        )
        row = cur.fetchone()
    return int(row[0]), int(row[1]), int(row[2])


@dataclass
class Measured:
    label: str
    baseline_s: list[float]
    imports: list[ImportRun]
    reimports: list[ImportRun]
    rows: tuple[int, int, int]

    @property
    def baseline(self) -> float:
        return statistics.median(self.baseline_s)

    def median(self, runs: list[ImportRun], attr: str = "wall_s") -> float:
        return statistics.median(getattr(run, attr) for run in runs)


def measure(
    label: str, folder: Path, layout: Layout, rounds: int, data_dir: Path, *, reimport: bool
) -> Measured:
    result = Measured(label, [], [], [], (0, 0, 0))
    for n in range(1, rounds + 1):
        log(f"{label}: round {n}/{rounds} (load1 {os.getloadavg()[0]:.2f})")
        with throwaway_database() as name:
            result.baseline_s.append(baseline_copy(name, folder / layout.ratings_file, layout))
            result.imports.append(run_import(name, folder, data_dir))
            result.rows = counts(name)
            if layout.expected and result.rows != layout.expected:
                raise RuntimeError(f"imported {result.rows}, expected {layout.expected}")
            if reimport:
                result.reimports.append(run_import(name, folder, data_dir))
                if counts(name) != result.rows:
                    raise RuntimeError("the re-import changed the row counts")
    return result


def export_synthetic(folder: Path, ratings: int, data_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(CBRTL), "demo", "export-movielens", str(folder), "--ratings", str(ratings)],
        check=True,
        capture_output=True,
        env={**os.environ, "CBRTL_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)},
        timeout=3600,
    )
    return time.perf_counter() - started


def machine() -> dict[str, str]:
    meminfo = Path("/proc/meminfo").read_text()
    kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    cpu = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    with closing(admin()) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        server = cur.fetchone()[0]
    versions = {name: version(name) for name in ("SQLAlchemy", "numpy", "click", "rich")}
    versions["psycopg2"] = psycopg2.__version__.split(" ")[0]
    return {
        "date": subprocess.run(["date"], capture_output=True, text=True).stdout.strip(),
        "nproc": str(os.cpu_count()),
        "memory": f"{kb / 1024 / 1024:.1f} GiB",
        "cpu": cpu[0] if cpu else platform.processor(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": server,
        "libraries": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "commit": subprocess.run(
            ["git", "-C", str(REPO), "log", "-1", "--format=%h (%s)"],
            capture_output=True,
            text=True,
        ).stdout.strip(),
    }


def report(
    small: Measured,
    large: Measured | None,
    export_s: float | None,
    args: argparse.Namespace,
    info: dict[str, str],
    loads: tuple[float, float],
    elapsed_s: float,
) -> str:
    wall = small.median(small.imports)
    lines = [
        "## MovieLens import into PostgreSQL: `cbrtl import movielens`",
        "",
        f"**ml-100k (100,000 ratings, 1,682 titles, 943 users) imports in {wall:.1f} s "
        f"(median of {len(small.imports)}), {wall / small.baseline:.0f}x a plain COPY of "
        f"u.data ({small.baseline:.2f} s); target under {TARGET_S:.0f} s: "
        f"{'met' if wall < TARGET_S else 'NOT met'}.** Wall-clock time of the command as a "
        "process, from spawn to exit, into an empty migrated database.",
        "",
        "| what | median s | rounds (s) | ratio to its COPY baseline |",
        "| --- | ---: | --- | ---: |",
        _row("ml-100k: COPY u.data into an unindexed table (baseline)", small.baseline_s, 1.0),
        _row(
            "ml-100k: `cbrtl import movielens` (process wall clock)",
            [r.wall_s for r in small.imports],
            wall / small.baseline,
        ),
        _row(
            "ml-100k: the same, time the command reports (no interpreter start)",
            [r.reported_s for r in small.imports],
            small.median(small.imports, "reported_s") / small.baseline,
        ),
        _row(
            "ml-100k: re-import, nothing changes (process wall clock)",
            [r.wall_s for r in small.reimports],
            small.median(small.reimports) / small.baseline,
        ),
    ]
    if large is not None:
        large_wall = large.median(large.imports)
        lines += [
            _row(
                f"synthetic ml-latest, {args.synthetic_ratings:,} ratings: COPY ratings.csv",
                large.baseline_s,
                1.0,
            ),
            _row(
                f"synthetic ml-latest, {args.synthetic_ratings:,} ratings: "
                "`cbrtl import movielens` (process wall clock)",
                [r.wall_s for r in large.imports],
                large_wall / large.baseline,
            ),
        ]
    lines += ["", "Summary lines the command printed:", ""]
    lines += [f"- `{run.summary}`" for run in (small.imports[0], small.reimports[0])]
    if large is not None:
        lines += [f"- `{large.imports[0].summary}`"]
        lines += [
            "",
            f"The synthetic folder ({large.rows[0]:,} titles, {large.rows[1]:,} users, "
            f"{large.rows[2]:,} ratings) was written by `cbrtl demo export-movielens DIR "
            f"--ratings {args.synthetic_ratings}` in {export_s:.1f} s (not part of the figures).",
        ]
    lines += [
        "",
        "### Command",
        "",
        "```",
        ".venv/bin/python bench/import_movielens.py " + " ".join(args.argv),
        "```",
        "",
        f"The whole run took {elapsed_s / 60:.1f} min. Each round uses a new database "
        "(created and migrated outside the timings); the baseline COPY and the import "
        "alternate within a round, so both see the same neighbours. The import's row "
        "counts are checked after each run (ml-100k: 1682 / 943 / 100000) and the "
        "re-import must leave them as they were.",
        "",
        "### Machine and date",
        "",
        f"- Date: {info['date']}. Commit {info['commit']}.",
        f'- `nproc`: {info["nproc"]}. Memory: {info["memory"]}. CPU: "{info["cpu"]}". '
        f"Kernel {info['kernel']}.",
        f"- Python {info['python']}, PostgreSQL {info['postgresql']}; {info['libraries']}.",
        f"- Load average (1 min) at the start {loads[0]:.2f}, at the end {loads[1]:.2f}: "
        "other sessions shared the 2 cores, so every figure is noisy; the baseline COPY "
        "is so short that its ratio is noisier still.",
    ]
    return "\n".join(lines) + "\n"


def _row(label: str, values: list[float], ratio: float) -> str:
    rounds = ", ".join(f"{v:.2f}" for v in values)
    return f"| {label} | {statistics.median(values):.2f} | {rounds} | {ratio:.1f}x |"


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=Path(DEFAULT_DATASET))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--synthetic-ratings", type=int, default=1_000_000, help="0 leaves the large run out"
    )
    parser.add_argument("--append", type=Path, help="append the markdown section to this file")
    args = parser.parse_args(argv)
    args.argv = argv
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    if not (args.dataset / "u.data").is_file():
        parser.error(f"{args.dataset} has no u.data (set --dataset or CBRTL_ML100K_DIR)")
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    info = machine()
    with tempfile.TemporaryDirectory(prefix="cbrtl-bench-import-") as tmp:
        data_dir = Path(tmp) / "data"
        small = measure("ml-100k", args.dataset, ML_100K, args.rounds, data_dir, reimport=True)
        large, export_s = None, None
        if args.synthetic_ratings:
            folder = Path(tmp) / "synthetic"
            log(f"writing a synthetic ml-latest folder of {args.synthetic_ratings} ratings")
            export_s = export_synthetic(folder, args.synthetic_ratings, data_dir)
            large = measure("synthetic", folder, ML_LATEST, 1, data_dir, reimport=False)
    text = report(
        small,
        large,
        export_s,
        args,
        info,
        (load_before, os.getloadavg()[0]),
        time.perf_counter() - started,
    )
    print(text)
    if args.append:
        with args.append.open("a") as handle:
            handle.write("\n" + text)
        log(f"appended to {args.append}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
