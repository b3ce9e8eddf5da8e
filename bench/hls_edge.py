#!/usr/bin/env python3
"""HLS segments from nginx's edge cache against the same segments from the web.

    .venv/bin/python bench/hls_edge.py [--concurrency 1,8,32] [--duration 10] [--rounds 3]

Two ways a player gets a 4 s 720p segment (--segment-kb, 1,500 KB by default) on
one machine:

* edge  docker/nginx.conf under Debian's nginx (its `# deploy:` lines pointed at
        loopback by tests/deploy/nginx.py, as in the test suite), `/hls/` in front of
        an S3 origin (moto); the cache is warmed by one request first, so the figures
        are hits (every response is checked to say HIT).
* web   cbrtl's gunicorn (production settings module, 2 workers x 4 threads) serving
        the same bytes from local storage at `/media/videos/...` (send_file with
        Range support): what players use without a CDN base URL.

A keep-alive http.client thread per connection in a separate process fetches the
segment for --duration seconds; rounds alternate edge and web. Reported: responses and
MB per second, latency percentiles, and the serving process's CPU per response.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
from benchlib import (
    BENCH_DIR,
    REPO,
    Processes,
    cbrtl,
    free_port,
    guarded_main,
    log,
    machine_footer,
    machine_info,
    moto_s3,
    pct,
    process_cpu,
    run_threads,
    start_gunicorn,
    wait_healthy,
)
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.models import Video
from db.services import content as catalogue
from db.settings import Settings
from db.storage import make_storage
from tests.deploy import nginx

BUCKET = "cbrtl-edge-bench"
KEY = "videos/1/j1/720p/seg_00001.ts"


@dataclass
class Result:
    target: str
    concurrency: int
    round: int
    responses: int
    per_s: float
    mb_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_response: float
    bad: int


@dataclass
class Report:
    args: dict[str, Any]
    started: str
    machine: dict[str, str]
    results: list[Result] = field(default_factory=list)


def client_main(argv: Sequence[str]) -> None:
    """Separate process: `concurrency` keep-alive connections GET `path` until time's up."""
    port, path, concurrency, seconds, size = (
        int(argv[0]), argv[1], int(argv[2]), float(argv[3]), int(argv[4]),
    )  # fmt: skip
    end = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    bad = [0] * concurrency

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < end:
            t0 = time.perf_counter()
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            latencies[index].append(time.perf_counter() - t0)
            cache = resp.getheader("X-Cache-Status")
            if resp.status != 200 or len(body) != size or cache not in (None, "HIT"):
                bad[index] += 1
        conn.close()

    elapsed = run_threads(concurrency, worker)
    lat = [x * 1e3 for chunk in latencies for x in chunk]
    print(json.dumps({
        "responses": len(lat), "elapsed_s": elapsed, "bad": sum(bad),
        "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
    }))  # fmt: skip


def cpu_seconds(pids: Sequence[int]) -> float:
    """CPU time so far of these processes and their children (nginx/gunicorn workers)."""
    return sum(cpu for pid, parent, _, cpu in process_cpu() if pid in pids or parent in pids)


def measure(
    target: str, port: int, path: str, pids: Sequence[int], args: argparse.Namespace,
    concurrency: int, round_no: int,
) -> Result:  # fmt: skip
    before = cpu_seconds(pids)
    code = "import sys, hls_edge; hls_edge.client_main(sys.argv[1:])"
    argv = [sys.executable, "-c", code, str(port), path, str(concurrency),
            str(args.duration), str(args.segment_kb * 1000)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), str(REPO)])}
    done = subprocess.run(argv, env=env, capture_output=True, text=True,
                          timeout=args.duration + 60, check=True)  # fmt: skip
    used = cpu_seconds(pids) - before
    out = json.loads(done.stdout.strip().splitlines()[-1])
    n = max(1, out["responses"])
    return Result(
        target=target,
        concurrency=concurrency,
        round=round_no,
        responses=out["responses"],
        per_s=out["responses"] / out["elapsed_s"],
        mb_per_s=out["responses"] * args.segment_kb / 1000 / out["elapsed_s"],
        p50_ms=out["p50_ms"],
        p99_ms=out["p99_ms"],
        cpu_ms_per_response=used / n * 1000,
        bad=out["bad"],
    )


def publish_segment_title(database_url: str) -> None:
    """Title 1 with its transcode j1 live, as the media job leaves it, so KEY is served."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        item = catalogue.create_content(session=session, owner_id=None, title="Bench", genres=[])
        prefix = KEY.rsplit("/", 2)[0]
        assert prefix == f"videos/{item.id}/j1", (prefix, item.id)
        session.add(
            Video(
                content_id=item.id,
                status="ready",
                output_prefix=prefix,
                master_key=f"{prefix}/master.m3u8",
                thumbnail_keys=[],
                renditions=[],
            )
        )
        session.commit()
    engine.dispose()


def run(args: argparse.Namespace, report: Report) -> str:
    procs = Processes()
    workdir = Path(tempfile.mkdtemp(prefix="hls_edge_"))
    segment = os.urandom(args.segment_kb * 1000)
    try:
        with moto_s3(procs, BUCKET, workdir / "moto.log") as endpoint:
            s3 = boto3.client("s3", endpoint_url=endpoint)
            policy = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/media/videos/*"}]}  # fmt: skip
            s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
            s3.put_object(Bucket=BUCKET, Key=f"media/{KEY}", Body=segment)

            # The embedded defaults (SQLite, local storage); /media serves only the published
            # set of an existing title, so the segment's title and video rows go in first.
            env = {k: v for k, v in os.environ.items() if not k.startswith("CBRTL_")}
            env["CBRTL_DATA_DIR"] = str(workdir / "var")
            cbrtl(env, "db", "upgrade")
            local_settings = Settings(data_dir=workdir / "var")
            publish_segment_title(local_settings.resolved_database_url)
            local = make_storage(local_settings).local_path(KEY)
            assert local is not None
            web_port = free_port()
            web_env = {**env, "PORT": str(web_port)}
            web = start_gunicorn(procs, "cbrtl", ["web.app:create_app()"], web_env,
                                 workdir / "web.log")  # fmt: skip
            wait_healthy(web_port, web, workdir / "web.log")
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(segment)

            where = nginx.loopback(
                workdir, web_ports=(web_port,), origin=endpoint.removeprefix("http://"),
                bucket_prefix=f"/{BUCKET}/media/",
            )  # fmt: skip
            with nginx.running(where):
                edge_pids = [int((workdir / "nginx.pid").read_text())]
                warm = http.client.HTTPConnection("127.0.0.1", where.port, timeout=30)
                warm.request("GET", f"/hls/{KEY}")
                assert warm.getresponse().read() == segment
                warm.close()
                targets = [
                    ("edge (nginx cache)", where.port, f"/hls/{KEY}", edge_pids),
                    ("web (gunicorn /media)", web_port, f"/media/{KEY}", [web.pid]),
                ]
                for round_no in range(1, args.rounds + 1):
                    for concurrency in args.concurrency:
                        for target, port, path, pids in targets:
                            log(f"round {round_no}: {target}, {concurrency} connections")
                            report.results.append(
                                measure(target, port, path, pids, args, concurrency, round_no)
                            )
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    return markdown(report)


def markdown(report: Report) -> str:
    out = ["| target | connections | responses/s (median) | MB/s | p50 ms | p99 ms | "
           "CPU ms per response | bad | edge / web |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    levels = sorted({r.concurrency for r in report.results})
    for level in levels:
        medians: dict[str, Result] = {}
        for target in dict.fromkeys(r.target for r in report.results):
            rows = [r for r in report.results if r.target == target and r.concurrency == level]
            medians[target] = sorted(rows, key=lambda r: r.per_s)[len(rows) // 2]
        edge, web = medians.values()
        for m in (edge, web):
            ratio = f"{edge.per_s / web.per_s:.2f}" if m is edge and web.per_s else ""
            bad = sum(r.bad for r in report.results if r.target == m.target)
            out.append(f"| {m.target} | {level} | {m.per_s:.0f} | {m.mb_per_s:.0f} | "
                       f"{m.p50_ms:.1f} | {m.p99_ms:.1f} | {m.cpu_ms_per_response:.2f} | "
                       f"{bad} | {ratio} |")  # fmt: skip
    out += ["", *machine_footer(report.machine, report.started)]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")],
                        default=[1, 8, 32])  # fmt: skip
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--segment-kb", type=int, default=1500)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    args.cleanup_stale = False
    report = Report(
        args=dict(vars(args)),
        started=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=machine_info(),
    )
    return guarded_main(args, lambda: run(args, report), lambda: asdict(report))


if __name__ == "__main__":
    sys.exit(main())
