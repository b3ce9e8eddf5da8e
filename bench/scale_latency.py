#!/usr/bin/env python3
"""The viewer's calls at one connection on a large platform against ml-100k: do the
indexes and plans hold?

    .venv/bin/python bench/scale_latency.py --large postgresql+psycopg://...  [--calls 200]

`--large` is a database that `cbrtl demo synth` filled (bench/synth_scale.py --keep);
the script makes an ml-100k one beside it (`cbrtl import movielens`). Against each it
builds the Flask app in this process without Redis (every read goes to PostgreSQL, the
fallback path and the one indexes decide), signs up one viewer who rates 20 titles, then
times --calls of each call one after the other (the WSGI app called directly, so the
figures are the app's and the database's time, not gunicorn's) and reports p50 and p95
with the large/small ratio. No model is trained: lists come from the cold start.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib

CALLS: dict[str, tuple[str, str]] = {
    "catalogue popular": ("GET", "/api/v1/content?sort=popular&limit=20"),
    "catalogue rating": ("GET", "/api/v1/content?sort=rating&limit=20"),
    "catalogue newest in a genre": ("GET", "/api/v1/content?sort=newest&genre=Drama&limit=20"),
    "catalogue search": ("GET", "/api/v1/content?q=golden&limit=20"),
    "title": ("GET", "/api/v1/content/{id}"),
    "title's ratings": ("GET", "/api/v1/content/{id}/ratings"),
    "similar": ("GET", "/api/v1/content/{id}/similar?limit=10"),
    "home page": ("GET", "/api/v1/homepage"),
    "recommendations": ("GET", "/api/v1/recommendations?limit=20"),
    "trending": ("GET", "/api/v1/trending?window=week"),
    "history": ("GET", "/api/v1/me/history"),
    "rate": ("PUT", "/api/v1/content/{id}/rating"),
    "progress": ("POST", "/api/v1/content/{id}/progress"),
}


def measure(url: str, broker: str, calls: int, seed: int) -> dict[str, list[float]]:
    """ms per call, in call order, against the database at `url`."""
    os.environ.update(CBRTL_DATABASE_URL=url, CBRTL_BROKER_URL=broker, CBRTL_LOG_LEVEL="ERROR",
                      CBRTL_DATA_DIR=tempfile.mkdtemp(prefix="cbrtl_scale_"),
                      CBRTL_SECRET_KEY="bench-secret-key-not-for-production-0123")  # fmt: skip
    os.environ.pop("CBRTL_REDIS_URL", None)
    from sqlalchemy import text

    from db.settings import load_settings
    from web.app import create_app

    app = create_app(load_settings())
    client = app.test_client()
    email = f"scale-{os.getpid()}-{seed}@example.org"
    password = "quartz tulip harbor 42"
    body = {"email": email, "password": password, "display_name": "Bench"}
    signed_up = client.post("/api/v1/auth/register", json=body)
    assert signed_up.status_code == 201, signed_up.json
    login = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    token = (login.json or {})["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    with app.app_context():
        from web.runtime import runtime

        with runtime().session_factory() as session:
            ids = list(session.scalars(text("SELECT id FROM content ORDER BY id")))
    rng = random.Random(seed)
    for content_id in rng.sample(ids, 20):
        put = client.put(f"/api/v1/content/{content_id}/rating", json={"score": 4}, headers=headers)
        assert put.status_code == 200, put.json
    times: dict[str, list[float]] = {}
    for name, (method, path) in CALLS.items():
        call = _caller(client, method, path, headers, ids, rng)
        for _ in range(5):
            call()  # warm the path and the buffer cache a little
        times[name] = []
        for _ in range(calls):
            began = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - began) * 1000)
    return times


def _caller(
    client: Any, method: str, path: str, headers: dict[str, str], ids: list[int], rng: random.Random
) -> Callable[[], None]:
    def call() -> None:
        target = path.replace("{id}", str(rng.choice(ids)))
        json: Any = None
        if method == "PUT":
            json = {"score": rng.randint(1, 10) / 2}
        elif method == "POST":
            json = {"position_s": 30.0, "completed": False}
        response = client.open(target, method=method, json=json, headers=headers)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {target}: {response.status_code} {response.json}")

    return call


def _in_child(url: str, broker: str, calls: int, seed: int) -> dict[str, list[float]]:
    """Each platform in a process of its own: nothing cached in one reaches the other."""
    argv = [sys.executable, __file__, "--measure", url, "--broker", broker,
            "--calls", str(calls), "--seed", str(seed)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"timing {url} failed:\n{done.stderr[-3000:]}")
    times: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child: time one platform
    parser.add_argument("--broker", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--large", help="database URL of a synthesised platform")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--dataset", type=Path, default=benchlib.ML100K_DIR)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.broker, args.calls, args.seed)))
        return 0
    if not args.large:
        parser.error("--large is required")
    os.chdir(benchlib.REPO)
    name, bench_url, broker = benchlib.bench_names()
    small_url = bench_url.replace("+psycopg2", "+psycopg")
    benchlib.create_database(name)
    benchlib.create_vhost(name)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CBRTL_")}
        env.update(CBRTL_DATABASE_URL=small_url, CBRTL_DATA_DIR=tempfile.mkdtemp())
        benchlib.cbrtl(env, "db", "upgrade")
        benchlib.cbrtl(env, "import", "movielens", str(args.dataset))
        benchlib.vacuum_analyze(bench_url)
        benchlib.log("ml-100k imported; timing")
        small = _in_child(small_url, broker, args.calls, 1)
        benchlib.log("timing the large platform")
        large = _in_child(args.large, broker, args.calls, 2)
    finally:
        benchlib.drop_database(name)
        benchlib.delete_vhost(name)
    print("| call | ml-100k p50 | p95 | large p50 | p95 | p95 ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for call in CALLS:
        s50, s95 = benchlib.pct(small[call], 50), benchlib.pct(small[call], 95)
        l50, l95 = benchlib.pct(large[call], 50), benchlib.pct(large[call], 95)
        print(f"| {call} | {s50:.1f} ms | {s95:.1f} ms | {l50:.1f} ms | {l95:.1f} ms | "
              f"{l95 / s95:.2f}x |")  # fmt: skip
    print(f"\n{args.calls} calls each, one after the other; {benchlib.code_version()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
