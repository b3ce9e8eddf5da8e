#!/usr/bin/env python3
"""Each signed-in endpoint's throughput as a share of GET /healthz on the same server.

    .venv/bin/python bench/endpoint_ratios.py [--duration 20] [--connections 16]
        [--checkout PATH] [--profile DIR] [--json PATH] [--dataset PATH]

The platform as deployed (gunicorn `web.gunicorn_conf` 2 workers x 4 threads, ONE Celery
worker on every queue, beat, PostgreSQL, RabbitMQ, Redis db 6) on a throw-away database
and vhost `cbrtl_bench_<pid>`; ml-100k imported, --viewers sign up, sign in and rate over
the API, `cbrtl retrain --wait`, trending refreshed. Per endpoint wrk runs GET /healthz,
then the endpoint (endpoint_ratios.lua rotates tokens and title ids); CPU per request by
process group from /proc/<pid>/stat. --checkout PATH: the platform from another tree (cwd,
first on PYTHONPATH); --profile DIR: `py-spy record` on the gunicorn workers, top frames.
All it creates is removed at the end; 127.0.0.1 only; --time-limit bounds the run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import benchlib
import load_mix

ENDPOINTS: dict[str, tuple[str, str]] = {
    "recommendations": ("GET", "/api/v1/recommendations?limit=20"),
    "title": ("GET", "/api/v1/content/{id}"),
    "homepage": ("GET", "/api/v1/homepage"),
    "rating": ("PUT", "/api/v1/content/{id}/rating"),  # body {"score": ...}: docs/API.md
}
GROUPS = ("gunicorn", "celery worker", "beat", "postgres", "postgres (bench db)",
          "rabbitmq", "redis")  # fmt: skip
PROJECT = ("(web/", "(db/", "(tasks/", "(workers/", "(cli/")  # py-spy's short file names
Snapshot = dict[int, tuple[tuple[str, ...], float]]  # pid -> (its groups, CPU seconds)


@dataclass
class Run:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    cpu_ms: dict[str, float]  # CPU ms per request by process group, over the wrk run
    worker_split: list[float]  # each gunicorn worker's share of the workers' CPU
    attempts: int
    drain_s: float = 0.0
    profile: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    args: dict[str, Any]
    started: str
    machine: dict[str, str]
    code: str = ""
    served_from: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)  # {endpoint, healthz, share}
    problems: list[str] = field(default_factory=list)


@dataclass
class Platform:
    args: argparse.Namespace
    procs: benchlib.Processes
    port: int
    workdir: Path
    database_url: str
    roots: dict[str, int]  # process group -> the pid at the top of its tree
    web_workers: list[int] = field(default_factory=list)


def cpu_snapshot(p: Platform) -> Snapshot:
    """Every live process's groups and CPU seconds so far."""
    roots, db_name = p.roots, p.database_url.rsplit("/", 1)[1]
    rows = list(benchlib.process_cpu())
    kids: dict[int, list[int]] = {}
    for pid, ppid, _cmd, _used in rows:
        kids.setdefault(ppid, []).append(pid)
    groups: dict[int, list[str]] = {pid: [] for pid, _ppid, _cmd, _used in rows}
    for group, root in roots.items():  # the process and everything it forked
        todo = [root]
        while todo:
            pid = todo.pop()
            groups.setdefault(pid, []).append(group)
            todo += kids.get(pid, [])
    for pid, _ppid, cmd, _used in rows:
        exe = Path(cmd.split(" ", 1)[0]).name
        if exe.startswith("postgres"):  # the postmaster, its helpers and every backend
            groups[pid] += ["postgres"] + (["postgres (bench db)"] if f" {db_name} " in cmd else [])
        elif exe in ("beam.smp", "redis-server"):  # RabbitMQ's Erlang VM, Redis
            groups[pid].append("rabbitmq" if exe == "beam.smp" else "redis")
    return {pid: (tuple(groups[pid]), used) for pid, _ppid, _cmd, used in rows if groups[pid]}


def cpu_delta(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds per group from `before` to `after` (new processes count in full)."""
    out = dict.fromkeys(GROUPS, 0.0)
    for pid, (groups, used) in after.items():
        for group in groups:
            out[group] += used - before.get(pid, ((), 0.0))[1]
    return out


def wrk_args(p: Platform, call: tuple[str, str], *, auth: bool, seconds: float) -> list[str]:
    files = [str(p.workdir / "tokens.txt"), str(p.workdir / "ids.txt")]
    argv = benchlib.wrk_argv(p.port, concurrency=p.args.connections, seconds=seconds,
                             script=p.workdir / "rotate.lua",
                             script_args=[*call, str(int(auth)), *files])  # fmt: skip
    argv.insert(argv.index("--script"), "--latency")
    return argv


def worker_split(p: Platform, before: Snapshot, after: Snapshot) -> list[float]:
    used = [after[w][1] - before[w][1] for w in p.web_workers if w in after and w in before]
    return [round(x / (sum(used) or 1), 2) for x in used]


def start_profilers(p: Platform, label: str) -> list[subprocess.Popen[bytes]]:
    if p.args.profile is None:
        return []
    p.args.profile.mkdir(parents=True, exist_ok=True)
    argv = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw",
            "--duration", str(max(1, round(p.args.duration))), "--function", "--nonblocking",
            "--rate", str(p.args.profile_rate)]  # fmt: skip
    return [p.procs.start(f"py-spy {label} {w}", [*argv, "--pid", str(w), "--output",
                          str(p.args.profile / f"{label}.{w}.txt")], env=dict(os.environ),
                          log_path=p.workdir / "py-spy.log") for w in p.web_workers]  # fmt: skip


def measure(p: Platform, label: str, call: tuple[str, str], *, auth: bool, drain: bool) -> Run:
    """wrk on one call for --duration (py-spy beside it with --profile); CPU per group. A
    keep-alive connection stays on the worker that accepted it: when one worker took over
    --max-skew of the first second's load, the run starts again (--attempts in all)."""
    for attempt in range(1, p.args.attempts + 1):
        spies = start_profilers(p, label)
        before = cpu_snapshot(p)
        argv = wrk_args(p, call, auth=auth, seconds=p.args.duration)
        client = p.procs.start(f"wrk {label}", argv, env=dict(os.environ), capture=True)
        with contextlib.suppress(subprocess.TimeoutExpired):
            client.wait(timeout=1.0)  # one second of load shows where the connections went
        skew = max(worker_split(p, before, cpu_snapshot(p)), default=0.0)
        if len(p.web_workers) < 2 or skew <= p.args.max_skew or attempt == p.args.attempts:
            break
        benchlib.log(f"{label}: one gunicorn worker took {skew:.0%} of the load; again")
        for proc in (client, *spies):
            p.procs.stop(proc, grace_s=1)
    stdout, stderr = client.communicate(timeout=p.args.duration + 60)
    p.procs.stop(client, grace_s=1)
    if client.returncode != 0:
        raise RuntimeError(f"wrk {label} exited {client.returncode}: {stderr.decode()[-2000:]}")
    out, after = benchlib.parse_bench_json(stdout.decode()), cpu_snapshot(p)
    used, n = cpu_delta(before, after), max(1, int(out["responses"]))
    run = Run(label, int(out["responses"]), out["responses"] / out["elapsed_s"], out["p50_ms"],
              out["p99_ms"], int(out["non200"]), int(out["socket_errors"]),
              {g: used[g] * 1000 / n for g in GROUPS}, worker_split(p, before, after),
              attempt)  # fmt: skip
    if drain:  # the jobs the run queued, paid for in full
        run.drain_s = benchlib.drain_jobs(p.database_url, p.args.drain_timeout)
        drained = cpu_delta(before, cpu_snapshot(p))
        run.cpu_ms["celery incl. drain"] = drained["celery worker"] * 1000 / n
    for spy in spies:
        with contextlib.suppress(subprocess.TimeoutExpired):  # it stops at --duration
            spy.wait(timeout=60)
        p.procs.stop(spy, grace_s=1)
    if spies:
        run.profile = summarise([p.args.profile / f"{label}.{w}.txt" for w in p.web_workers])
    benchlib.log(f"{label}: {run.rps:.1f} req/s, p99 {run.p99_ms:.0f} ms, {run.non2xx} non-2xx")
    return run


def summarise(paths: Sequence[Path]) -> dict[str, Any]:
    """Top frames of py-spy's collapsed stacks, % of samples: self; cumulative (but those on
    over 95% of stacks: thread start, gunicorn); cumulative of project code."""
    own, cum, total = Counter[str](), Counter[str](), 0
    text = "\n".join(x.read_text(errors="replace") for x in paths if x.exists())
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = stack.split(";")
            total += int(count)
            own[frames[-1]] += int(count)
            for frame in set(frames):
                cum[frame] += int(count)

    def top(counter: Counter[str], cap: float = 2.0, only: tuple[str, ...] = ("",)) -> Any:
        ranked = [(f, round(100 * c / total, 2)) for f, c in counter.most_common()
                  if c / total <= cap and any(x in f for x in only)]  # fmt: skip
        return ranked[:15]

    return {"samples": total, "self": top(own), "cumulative": top(cum, 0.95),
            "cumulative, project code": top(cum, only=PROJECT)}  # fmt: skip


def sign_up_and_rate(p: Platform, titles: Sequence[int]) -> tuple[list[str], list[str]]:
    """--viewers accounts over the API, signed in; each rates --ratings-per-viewer titles."""
    emails = [f"viewer{i}@example.com" for i in range(p.args.viewers)]
    for i, email in enumerate(emails):
        body = {"email": email, "password": benchlib.PASSWORD, "display_name": f"Viewer {i}"}
        status, answer = benchlib.http_json(p.port, "POST", "/api/v1/auth/register", body)
        if status != 201:
            raise RuntimeError(f"register {email}: HTTP {status} {answer}")
    tokens = benchlib.login_all(p.port, emails)
    for v, token in enumerate(tokens):
        rng = random.Random(v)
        for title in rng.sample(list(titles), p.args.ratings_per_viewer):
            path, score = f"/api/v1/content/{title}/rating", {"score": rng.choice(range(1, 6))}
            status, answer = benchlib.http_json(p.port, "PUT", path, score, token=token)
            if status != 200:
                raise RuntimeError(f"PUT {path}: HTTP {status} {answer}")
    return emails, tokens


def title_ids(database_url: str) -> list[int]:
    with contextlib.closing(benchlib.pg_connect(database_url)) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM content ORDER BY id")
        return [int(row[0]) for row in cur.fetchall()]


def served_from(env: dict[str, str]) -> str:
    """Where the children import the app from: the checkout, not the editable install."""
    code = "import pathlib, web; print(pathlib.Path(web.__file__).resolve().parents[1])"
    where = subprocess.run([sys.executable, "-c", code], env=env, cwd=benchlib.REPO, text=True,
                           capture_output=True, check=True, timeout=60).stdout.strip()  # fmt: skip
    if Path(where) != benchlib.REPO.resolve():
        raise RuntimeError(f"the app would be imported from {where}, not {benchlib.REPO}")
    return where


@contextlib.contextmanager
def redis_cleanup(url: str) -> Iterator[None]:
    """On the way out, delete the keys of Redis database `url` that were not there."""
    import redis

    client = redis.Redis.from_url(url)
    before = set(client.scan_iter(count=1000))
    try:
        yield
    finally:
        new = [k for k in client.scan_iter(count=1000) if k not in before]
        for start in range(0, len(new), 500):
            client.delete(*new[start : start + 500])
        benchlib.log(f"removed the {len(new)} Redis keys the run added")


def run(args: argparse.Namespace, report: Report) -> str:
    procs = benchlib.Processes()
    name, database_url, broker_url = benchlib.bench_names()
    with redis_cleanup(args.redis_url), benchlib.bench_resources(name, procs, args.logs) as workdir:
        port = benchlib.free_port()
        env = benchlib.bench_env(args, database_url, broker_url, workdir / "var", port)
        env["CBRTL_RATE_LIMIT_REGISTER_IP"] = "100000 per hour"  # the viewers sign up
        report.served_from = served_from(env)
        benchlib.log(f"migrating, importing MovieLens; platform from {report.served_from}")
        benchlib.cbrtl(env, "db", "upgrade")
        benchlib.cbrtl(env, "import", "movielens", str(args.dataset))
        web = benchlib.start_gunicorn(procs, "cbrtl", ["web.app:create_app()"], env,
                                      workdir / "web.log")  # fmt: skip
        benchlib.wait_healthy(port, web, workdir / "web.log")
        worker = benchlib.start_worker(procs, env, workdir, broker_url,
                                       queues="ratings,default,ml,media",
                                       concurrency=args.worker_concurrency)  # fmt: skip
        beat_argv = [sys.executable, "-m", "celery", "--app", "workers.celery_app", "beat",
                     "--schedule", str(workdir / "beat-schedule"),
                     "--loglevel", "WARNING"]  # fmt: skip
        beat = procs.start("celery beat", beat_argv, env=env, log_path=workdir / "beat.log")
        roots = {"gunicorn": web.pid, "celery worker": worker.pid, "beat": beat.pid}
        p = Platform(args, procs, port, workdir, database_url, roots)
        titles = title_ids(database_url)
        benchlib.log(f"{args.viewers} viewers sign up, sign in and rate")
        emails, tokens = sign_up_and_rate(p, titles)
        benchlib.drain_jobs(database_url, args.drain_timeout)
        benchlib.log("training the recommender and refreshing trending")
        benchlib.cbrtl(env, "retrain", "--wait", timeout=900)
        load_mix.refresh_trending(env)
        benchlib.drain_jobs(database_url, args.drain_timeout)
        lua = (benchlib.BENCH_DIR / "endpoint_ratios.lua").read_text()
        (workdir / "rotate.lua").write_text(lua + benchlib.WRK_REPORT)
        (workdir / "ids.txt").write_text("".join(f"{t}\n" for t in titles))
        p.web_workers = sorted(x for x, ppid, *_ in benchlib.process_cpu() if ppid == web.pid)
        signed_in = time.monotonic()
        if args.hold:
            (workdir / "tokens.txt").write_text("".join(f"{t}\n" for t in tokens))
            hold(p, args.hold)
        for key, call in ENDPOINTS.items():
            if key not in args.endpoints:
                continue
            if time.monotonic() - signed_in > 600:  # access tokens last 15 min
                tokens, signed_in = benchlib.login_all(port, emails), time.monotonic()
            (workdir / "tokens.txt").write_text("".join(f"{t}\n" for t in tokens))
            if args.warmup > 0:  # unmeasured: the endpoint's caches and code paths
                argv = wrk_args(p, call, auth=True, seconds=args.warmup)
                benchlib.run_client(
                    procs, f"wrk warm-up {key}", argv, args.warmup, dict(os.environ)
                )
                benchlib.drain_jobs(database_url, args.drain_timeout)
            base = measure(p, f"healthz-before-{key}", ("GET", "/healthz"), auth=False, drain=False)
            result = measure(p, key, call, auth=True, drain=True)
            share = result.rps / base.rps if base.rps else float("nan")
            report.results.append({"endpoint": asdict(result), "healthz": asdict(base),
                                   "share": share})  # fmt: skip
        report.problems = [f"{log}: {x}" for log in ("web.log", "worker.log", "beat.log")
                           for x in benchlib.log_problems(workdir / log)]  # fmt: skip
    return markdown(report)


def hold(p: Platform, seconds: float) -> None:
    """Keep the platform up for profiling by hand: its facts in hold.txt; delete that
    file (or wait `seconds`) to go on with the measured runs."""
    note = p.workdir / "hold.txt"
    note.write_text(
        f"port={p.port}\nworkdir={p.workdir}\ndatabase={p.database_url}\n"
        f"gunicorn={p.roots['gunicorn']}\nweb_workers={' '.join(map(str, p.web_workers))}\n"
        f"wrk: {' '.join(wrk_args(p, ENDPOINTS['recommendations'], auth=True, seconds=10))}\n"
    )
    benchlib.log(f"holding for {seconds:.0f} s: see {note}; delete it to go on")
    deadline = time.monotonic() + seconds
    while note.exists() and time.monotonic() < deadline:
        time.sleep(1)  # a person's pace, not a synchronisation


def markdown(report: Report) -> str:
    out = ["| endpoint | req/s | p50 ms | p99 ms | non-2xx | socket errors | /healthz req/s "
           "| /healthz p99 ms | share of /healthz |", "| --- |" + " ---: |" * 8]  # fmt: skip
    for r in report.results:
        e, h = r["endpoint"], r["healthz"]
        out.append(f"| `{' '.join(ENDPOINTS[e['name']])}` | {e['rps']:.1f} | {e['p50_ms']:.1f} "
                   f"| {e['p99_ms']:.1f} | {e['non2xx']} | {e['socket_errors']} | {h['rps']:.1f} "
                   f"| {h['p99_ms']:.1f} | {r['share']:.3f} |")  # fmt: skip
    cols = [*GROUPS[:2], "celery incl. drain", *GROUPS[2:]]
    out += ["", "CPU ms per request by process group (/proc utime + stime over the wrk run; "
            "postgres: every postgres process, (bench db): the backends of this run's database):",
            "", "| run | requests | " + " | ".join(cols) + " | gunicorn workers (starts) |",
            "| --- |" + " ---: |" * (len(cols) + 2)]  # fmt: skip
    for r in report.results:
        for run in (r["healthz"], r["endpoint"]):
            cells = [f"{run['cpu_ms'][c]:.2f}" if c in run["cpu_ms"] else "" for c in cols]
            split = " / ".join(f"{x:.0%}" for x in run["worker_split"]) + f" ({run['attempts']})"
            out.append(f"| {run['name']} | {run['requests']} | {' | '.join(cells)} | {split} |")
    for e in (r["endpoint"] for r in report.results if r["endpoint"]["profile"]):
        prof = e["profile"]
        out += ["", f"py-spy on the gunicorn workers, `{e['name']}`: {prof.get('samples')} "
                "samples of threads running or runnable (% of samples)."]  # fmt: skip
        for kind in ("self", "cumulative", "cumulative, project code"):
            lines = [f"    {share:5.1f}%  {frame}" for frame, share in prof.get(kind, [])]
            out += ["", f"  {kind}:", *lines]
    out += ["", f"Code: {report.code}; served from {report.served_from}.",
            *benchlib.machine_footer(report.machine, report.started)]  # fmt: skip
    out += benchlib.problems_footer(report.problems)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--duration", type=float, default=20, help="seconds per wrk run")
    add("--warmup", type=float, default=3, help="unmeasured seconds of each endpoint first")
    add("--connections", type=int, default=16, help="wrk's keep-alive connections")
    add("--viewers", type=int, default=40, help="signed-in viewer accounts")
    add("--ratings-per-viewer", type=int, default=20)
    add("--worker-concurrency", type=int, default=2, help="the one Celery worker's pool")
    add("--dataset", type=Path, default=benchlib.ML100K_DIR)
    add("--checkout", type=Path, help="run the platform from this source tree")
    add("--profile", type=Path, help="write py-spy's collapsed stacks into this folder")
    add("--profile-rate", type=int, default=100, help="py-spy samples per second")
    add("--drain-timeout", type=float, default=300)
    add("--time-limit", type=int, default=3600, help="seconds for the whole run")
    add("--attempts", type=int, default=8, help="starts of a run while one worker does it all")
    add("--max-skew", type=float, default=0.75, help="most of the load one worker may take")
    add(
        "--endpoints",
        type=lambda v: v.split(","),
        default=list(ENDPOINTS),
        help=f"comma-separated subset of {','.join(ENDPOINTS)}",
    )
    add(
        "--hold",
        type=float,
        default=0,
        help="after set-up, keep the platform up this "
        "many seconds (or until its hold.txt is deleted) for profiling by hand",
    )
    benchlib.add_common_args(parser)
    parser.set_defaults(redis_url="redis://127.0.0.1:6379/6")
    args = parser.parse_args(argv)
    if not (args.dataset / "u.data").exists():
        parser.error(f"{args.dataset} has no u.data (set --dataset or CBRTL_ML100K_DIR)")
    if unknown := set(args.endpoints) - set(ENDPOINTS):
        parser.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    if min(args.duration, args.connections, args.viewers, args.ratings_per_viewer) <= 0:
        parser.error("--duration, --connections, --viewers and --ratings-per-viewer must be > 0")
    # guarded_main runs in the measured tree: paths given relative to here stay so.
    for option in ("checkout", "profile", "json", "logs", "dataset"):
        if getattr(args, option) is not None:
            setattr(args, option, getattr(args, option).resolve())
    if args.checkout is not None:
        if not (args.checkout / "web" / "gunicorn_conf.py").exists():
            parser.error(f"{args.checkout} is not a cbrtl source tree")
        # benchlib (and load_mix) start every child with cwd=REPO, REPO first on PYTHONPATH.
        benchlib.REPO = load_mix.REPO = args.checkout

    def time_up(_signum: int, _frame: Any) -> None:
        raise benchlib.Interrupted(f"--time-limit {args.time_limit} s")

    signal.signal(signal.SIGALRM, time_up)
    signal.alarm(args.time_limit)
    report = Report(args=dict(vars(args)), machine=benchlib.machine_info(),
                    started=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                    code=benchlib.code_version())  # fmt: skip
    return benchlib.guarded_main(args, lambda: run(args, report), lambda: asdict(report))


if __name__ == "__main__":
    sys.exit(main())
