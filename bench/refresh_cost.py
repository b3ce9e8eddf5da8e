#!/usr/bin/env python3
"""CPU per list refresh (`recommender.refresh_user`), by phase and per rating, on ml-100k.

    .venv/bin/python bench/refresh_cost.py [--viewers 500] [--rounds 2] [--pace 0,10]
                                           [--baseline DIR] [--dataset PATH]

Set-up, on the real services: a throw-away PostgreSQL database `cbrtl_bench_<pid>` and
RabbitMQ vhost of the same name, migrated (`cbrtl db upgrade`), ml-100k imported
(`cbrtl import movielens`), the recommender trained by the Procfile's `worker_ml`
(`cbrtl retrain --wait`: EASE ranks, SVD predicts ratings), that worker then stopped.

In-process figure, in a child process per round and code tree (each imports its own
tree; --baseline DIR is, say, a `git worktree` of an older commit; rounds alternate the
trees): the task body `tasks.recommender.refresh_user` for --viewers distinct users in
a random order, each in a fresh session committed at once, as the job runner runs it.
CPU is `time.process_time()` (all the child's threads, BLAS's included); the first
--warmup refreshes load the models, uncounted. Phases, timed by wrapping (in the child
only) whichever of the HOOKS below its tree has, each exclusive of the others: connect
(connection checkout and pre-ping), active (live versions), ratings (the viewer's),
load (resident models after warm-up), fold-in (both models, the top-k pick), db writes
(the list, the factors), commit (without the cache write after it), cache (the Redis
document), other (the rest of the body). Each run's Redis documents are compared with
the first run's: the same titles in the same order, scores within 1e-4. A tree with the
list drain (db/services/refresh_backlog.py) is also measured draining: the same viewers
marked, then `refresh_user` with no viewer named until no mark is left (CPU per viewer).

Whole-job figure, per tree and --pace: --viewers real ratings through the tree's own
`ratings.rate` (each viewer re-rates a title with the score it has, so the data stays
the same; pace 0: all at once; N: N per second), and a real `worker_ml` (the Procfile's
line) runs the list refreshes they queue, one per rating or one drain for many, claim,
heartbeat and Celery included: its processes' CPU from /proc per rating and per job, and
its idle CPU per second just before. A `ratings` worker, not counted, runs the stats
drains the ratings join (in a tree with the list drain, they queue it).

Everything it creates is removed at the end, also on Ctrl-C (`--cleanup-stale`: what a
SIGKILLed run left), its Redis keys too (--redis-url, database 13).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import importlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import benchlib as bl
import redis

REFRESH = "recommender.refresh_user"
PHASES = ("connect", "active", "ratings", "load", "fold-in", "db writes", "commit", "cache")
HOOKS = {  # phase -> "module:attribute" candidates; a tree gets those it has
    "active": ("db.services.recommender:active_model", "db.services.recommender:active_models"),
    "ratings": ("db.services.ratings:scores_for_user", "db.services.ratings:scores_for_users"),
    "load": ("tasks.recommender_io:load_model",),
    "fold-in": ("workers.recommender.ease:EASE.fold_in",
                "workers.recommender.ease:EASE.fold_in_many",
                "workers.recommender.svd:SVDRatings.fold_in", "tasks.recommender_io:top_k"),
    "db writes": ("db.services.recommender:replace_recommendations",
                  "db.services.recommender:replace_user_factors",
                  "db.services.recommender:existing"),
    "cache": ("db.recs_cache:write_many",),
}  # fmt: skip


# --------------------------------------------------------------------------- child


class PhaseClock:
    """Exclusive CPU time per phase: entering a phase pauses the one it was called in."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.stack, self.spent, self.mark = ["other"], dict[str, float](), time.process_time()

    def _switch(self) -> None:
        now = time.process_time()
        self.spent[self.stack[-1]] = self.spent.get(self.stack[-1], 0.0) + now - self.mark
        self.mark = now

    def timed(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._switch()
            self.stack.append(phase)
            try:
                return fn(*args, **kwargs)
            finally:
                self._switch()
                self.stack.pop()

        return wrapper

    def close(self) -> dict[str, float]:
        self._switch()
        return {**self.spent, "total": sum(self.spent.values())}


def install_hooks(clock: PhaseClock) -> list[str]:
    """Wrap each hook the imported tree has; returns the ones it had."""
    found = []
    for phase, candidates in HOOKS.items():
        for candidate in candidates:
            module_name, attr = candidate.split(":")
            *path, name = attr.split(".")
            owner = functools.reduce(getattr, path, importlib.import_module(module_name))
            if callable(getattr(owner, name, None)):
                setattr(owner, name, clock.timed(phase, getattr(owner, name)))
                found.append(candidate)
    return found


def child_enqueue(user_ids: Sequence[int], pace: float) -> None:
    """A rating per viewer, through this tree's rating service: a title they rated, the
    score they gave it (nothing changes but what the rating queues)."""
    from sqlalchemy import select

    from db.models import Rating
    from db.services import ratings
    from tasks.context import session_factory

    with session_factory()() as session:
        rows = session.execute(
            select(Rating.user_id, Rating.content_id, Rating.score)
            .where(Rating.user_id.in_(list(user_ids)))
            .order_by(Rating.user_id, Rating.content_id)
        )
        first = {user: (title, score) for user, title, score in reversed(list(rows))}
    start = time.monotonic()
    for n, user_id in enumerate(user_ids):
        if pace > 0:
            time.sleep(max(0.0, start + n / pace - time.monotonic()))
        with session_factory()() as session:
            title, score = first[user_id]
            ratings.rate(session=session, user_id=user_id, content_id=title, score=score)
            session.commit()


def child_drain(viewers: Sequence[int], warmup: int) -> dict[str, Any]:
    """CPU per viewer of the list drain: the viewers marked, then drains until none is
    left, each in a fresh session committed at once (the first `warmup` uncounted)."""
    import tasks.recommender as task_module
    from db.services import refresh_backlog
    from tasks.context import session_factory

    factory = session_factory()

    def drained(users: Sequence[int]) -> tuple[float, int]:
        with factory() as session:
            for user_id in users:
                refresh_backlog.mark(session=session, user_id=user_id)
            session.commit()
        start, runs, left = time.process_time(), 0, len(users)
        while left:
            with factory() as session:
                left -= task_module.refresh_user(session, {}).get("users", 0) or left
                session.commit()
            runs += 1
        return time.process_time() - start, runs

    drained(viewers[:warmup])
    cpu_s, runs = drained(viewers[warmup:])
    return {"cpu_s": cpu_s, "drains": runs, "viewers": len(viewers) - warmup}


def child_measure(viewers: Sequence[int], warmup: int) -> dict[str, Any]:
    import tasks.recommender as task_module
    from db import recs_cache
    from tasks.context import cache_client, session_factory

    clock = PhaseClock()
    hooks = install_hooks(clock)
    factory = session_factory()

    def refresh(user_id: int) -> dict[str, float]:
        clock.reset()
        with factory() as session:
            clock.timed("connect", session.connection)()
            task_module.refresh_user(session, {"user_id": user_id})
            clock.timed("commit", session.commit)()
        return clock.close()

    warmup_cpu = sum(refresh(user_id)["total"] for user_id in viewers[:warmup])
    samples = [refresh(user_id) for user_id in viewers[warmup:]]
    docs = {u: recs_cache.read(cache_client(), u) or {} for u in viewers[warmup:]}
    lists = {str(u): [item[:2] for item in doc.get("items", [])] for u, doc in docs.items()}
    return {"samples": samples, "hooks": hooks, "lists": lists, "warmup_cpu_s": warmup_cpu}


# --------------------------------------------------------------------------- parent


@dataclass
class Run:
    tree: str
    round: int
    samples: list[dict[str, float]]
    hooks: list[str]
    warmup_cpu_s: float
    lists: dict[str, Any] = field(repr=False)
    differing_lists: int = 0


@dataclass
class DrainRun:
    tree: str
    round: int
    viewers: int
    drains: int
    cpu_s: float


@dataclass
class WorkerRun:
    tree: str
    pace: float
    ratings: int
    jobs: int
    failed: int
    cpu_s: float
    idle_cpu_per_s: float


@dataclass
class Report:
    args: dict[str, Any]
    started: str
    machine: dict[str, str]
    trees: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    drains: list[DrainRun] = field(default_factory=list)
    workers: list[WorkerRun] = field(default_factory=list)
    viewers: int = 0
    problems: list[str] = field(default_factory=list)


def differing(first: dict[str, Any], other: dict[str, Any]) -> int:
    """Viewers whose lists differ in titles, order or a score by more than 1e-4."""
    return sum(
        len(items) != len(theirs := other.get(user, []))
        or any(a[0] != b[0] or abs(a[1] - b[1]) > 1e-4 for a, b in zip(items, theirs, strict=True))
        for user, items in first.items()
    )


def query(database_url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(bl.pg_connect(database_url)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall())


def finished_refreshes(database_url: str) -> tuple[int, int]:
    """(succeeded, failed or dead) refresh jobs so far."""
    ((done, failed),) = query(database_url, "SELECT count(*) FILTER (WHERE status = "
                              "'succeeded'), count(*) FILTER (WHERE status IN ('failed', "
                              "'dead')) FROM jobs WHERE type = %s", (REFRESH,))  # fmt: skip
    return int(done), int(failed)


def child_argv(mode: str, path: str, viewers: Sequence[int], *extra: str) -> list[str]:
    return [sys.executable, __file__, "--child", mode, "--code", path,
            "--viewer-ids", json.dumps(list(viewers)), *extra]  # fmt: skip


def tree_env(env: dict[str, str], path: str, *, safe: bool = False) -> dict[str, str]:
    """`path` first on PYTHONPATH; `safe` for `python -m`, which would put the current
    folder (this checkout) ahead of it."""
    return {**env, "PYTHONPATH": os.pathsep.join([path, env["PYTHONPATH"]]),
            **({"PYTHONSAFEPATH": "1"} if safe else {})}  # fmt: skip


def measure(procs: bl.Processes, env: dict[str, str], label: str, path: str, round_no: int,
            viewers: list[int], args: argparse.Namespace) -> Run:  # fmt: skip
    """One child run of `path`'s code over the viewers."""
    argv = child_argv("measure", path, viewers, "--warmup", str(args.warmup))
    out = bl.run_client(procs, f"refresh {label}", argv, 600, tree_env(env, path))
    return Run(label, round_no, out["samples"], out["hooks"], out["warmup_cpu_s"], out["lists"])


def drain(procs: bl.Processes, env: dict[str, str], label: str, path: str, round_no: int,
          viewers: list[int], args: argparse.Namespace) -> DrainRun | None:  # fmt: skip
    """The drain's child run of `path`'s code, when that tree has the drain."""
    if not (Path(path) / "db" / "services" / "refresh_backlog.py").exists():
        return None
    argv = child_argv("drain", path, viewers, "--warmup", str(args.warmup))
    out = bl.run_client(procs, f"drain {label}", argv, 600, tree_env(env, path))
    return DrainRun(label, round_no, out["viewers"], out["drains"], out["cpu_s"])


def worker_run(procs: bl.Processes, env: dict[str, str], where: tuple[Path, str, str], label: str,
               path: str, pace: float, viewers: list[int], warmup: int) -> WorkerRun:  # fmt: skip
    """A real `worker_ml` on `path`'s code, its processes' CPU per refresh job; the first
    `warmup` jobs load the models, uncounted."""
    workdir, broker_url, database_url = where
    name = f"worker_ml_{''.join(c for c in label if c.isalnum())}_{pace:g}"
    marker = f"{name}-bench-{os.getpid()}@"

    def cpu() -> float:
        return sum(cpu_s for _pid, _parent, cmdline, cpu_s in bl.process_cpu() if marker in cmdline)

    def queue(users: list[int], pace: float) -> tuple[int, int]:
        argv = child_argv("enqueue", path, users, "--pace", str(pace))
        bl.run_client(procs, "enqueue", argv, 120 + len(users) / (pace or 100),
                      tree_env(env, path))  # fmt: skip
        bl.drain_jobs(database_url, 600)  # the stats drains too: they may queue the lists'
        return finished_refreshes(database_url)

    worker = bl.start_worker(procs, tree_env(env, path, safe=True), workdir, broker_url,
                             queues="ml", concurrency=1, name=name)  # fmt: skip
    # The stats drain's worker, not counted: in a tree with the list drain it queues it.
    stats = bl.start_worker(procs, tree_env(env, path, safe=True), workdir, broker_url,
                            queues="ratings", concurrency=1,
                            name=f"stats{pace:g}{name.removeprefix('worker_ml')}")  # fmt: skip
    try:
        queue(viewers[:warmup], 0)
        idle, t_idle = cpu(), time.monotonic()
        time.sleep(5)
        idle, before = (cpu() - idle) / (time.monotonic() - t_idle), cpu()
        done_before = finished_refreshes(database_url)
        done_after, after = queue(viewers[warmup:], pace), cpu()
    finally:
        procs.stop(worker)
        procs.stop(stats)
    jobs, failed = (a - b for a, b in zip(done_after, done_before, strict=True))
    return WorkerRun(label, pace, len(viewers) - warmup, jobs, failed, after - before, idle)


def run(args: argparse.Namespace, report: Report) -> str:
    procs = bl.Processes()
    name, database_url, broker_url = bl.bench_names()
    trees = {"this tree": str(bl.REPO), **({"baseline": str(args.baseline.resolve())}
                                        if args.baseline else {})}  # fmt: skip
    for label, path in trees.items():
        git = ["git", "-C", path, "log", "-1", "--format=%h %s"]
        rev = subprocess.run(git, capture_output=True, text=True, check=False).stdout.strip()
        report.trees[label] = bl.code_version() if path == str(bl.REPO) else rev or "unknown"
    users: list[int] = []
    with bl.bench_resources(name, procs, args.logs) as workdir:
        env = bl.bench_env(args, database_url, broker_url, workdir / "var", bl.free_port())
        try:
            bl.log("migrating, importing MovieLens and training the recommender")
            bl.cbrtl(env, "db", "upgrade")
            bl.cbrtl(env, "import", "movielens", str(args.dataset))
            trainer = bl.start_worker(procs, env, workdir, broker_url, queues="ml", concurrency=1,
                                   name="worker_ml")  # fmt: skip
            bl.cbrtl(env, "retrain", "--wait", timeout=900)
            procs.stop(trainer)
            rated = query(database_url, "SELECT DISTINCT user_id FROM ratings")
            users = sorted(u for (u,) in rated)
            random.Random(args.seed).shuffle(users)
            viewers = users[: args.viewers + args.warmup]
            report.viewers = len(viewers) - args.warmup
            for round_no in range(1, args.rounds + 1):
                order = list(trees.items())
                for label, path in order[::-1] if round_no % 2 == 0 else order:
                    bl.log(f"round {round_no}: {label} ({report.viewers} refreshes in-process)")
                    report.runs.append(measure(procs, env, label, path, round_no, viewers, args))
                    report.runs[-1].differing_lists = differing(report.runs[0].lists,
                                                                report.runs[-1].lists)  # fmt: skip
                    if drained := drain(procs, env, label, path, round_no, viewers, args):
                        report.drains.append(drained)
            for pace in args.pace:
                for label, path in trees.items():
                    bl.log(f"{label}: {report.viewers} jobs in a real worker_ml, pace {pace:g}")
                    where = (workdir, broker_url, database_url)
                    report.workers.append(
                        worker_run(procs, env, where, label, path, pace, viewers, args.warmup)
                    )
        finally:
            if users and args.redis_url:
                with redis.Redis.from_url(args.redis_url) as client:
                    client.delete(*(f"cbrtl:recs:{u}" for u in users))
        for worker_log in sorted(workdir.glob("worker_ml*.log")):
            report.problems += [f"{worker_log.stem}: {x}" for x in bl.log_problems(worker_log)]
    return markdown(report)


def ms(values: Sequence[float], what: str) -> str:
    if not values:
        return "-"
    value = statistics.fmean(values) if what == "mean" else bl.pct(values, int(what[1:]))
    return f"{value * 1e3:.2f}"


def markdown(report: Report) -> str:
    labels = list(report.trees)
    pooled = {t: [s for r in report.runs if r.tree == t for s in r.samples] for t in labels}
    out = [f"CPU per refresh in-process, ms ({report.viewers} viewers x "
           f"{report.args['rounds']} rounds per tree):", "",
           "| phase | " + " | ".join(f"{t} mean / p50 / p95" for t in labels) + " |",
           "| --- |" + " ---: |" * len(labels)]  # fmt: skip
    for phase in ("total", *PHASES, "other"):
        cells = [" / ".join(ms([s.get(phase, 0.0) for s in pooled[t]], w)
                            for w in ("mean", "p50", "p95")) for t in labels]  # fmt: skip
        out.append(f"| {f'**{phase}**' if phase == 'total' else phase} | {' | '.join(cells)} |")
    out += ["", "| tree | round | refreshes | mean ms | p50 ms | p95 ms | warm-up CPU s "
            "| lists differing from the first run |", "| --- |" + " ---: |" * 7]  # fmt: skip
    for r in report.runs:
        totals = [s["total"] for s in r.samples]
        out.append(f"| {r.tree} | {r.round} | {len(totals)} | {ms(totals, 'mean')} "
                   f"| {ms(totals, 'p50')} | {ms(totals, 'p95')} | {r.warmup_cpu_s:.2f} "
                   f"| {r.differing_lists} |")  # fmt: skip
    if report.drains:
        out += [
            "",
            "The list drain in-process (viewers marked, drained until none is left):",
            "",
            "| tree | round | viewers | drains | CPU ms per viewer |",
            "| --- |" + " ---: |" * 4,
        ]
        for d in report.drains:
            out.append(f"| {d.tree} | {d.round} | {d.viewers} | {d.drains} "
                       f"| {d.cpu_s / max(1, d.viewers) * 1e3:.2f} |")  # fmt: skip
    if report.workers:
        out += ["", "Whole jobs in a real `worker_ml`, queued by real ratings (its processes' CPU "
                "from /proc):", "", "| tree | ratings queued | ratings | refresh jobs | failed "
                "| CPU ms per rating | CPU ms per job | idle CPU ms/s |",
                "| --- | --- |" + " ---: |" * 6]  # fmt: skip
        for w in report.workers:
            pace = "all at once" if w.pace == 0 else f"{w.pace:g} per second"
            per_job = w.cpu_s / max(1, w.jobs) * 1e3
            out.append(f"| {w.tree} | {pace} | {w.ratings} | {w.jobs} | {w.failed} "
                       f"| {w.cpu_s / max(1, w.ratings) * 1e3:.2f} | {per_job:.2f} "
                       f"| {w.idle_cpu_per_s * 1e3:.1f} |")  # fmt: skip
    out.append("")
    for tree in labels:
        hooks = next((r.hooks for r in report.runs if r.tree == tree), [])
        out.append(f"- {tree}: {report.trees[tree]}; timed: {', '.join(hooks)}")
    out += ["", *bl.machine_footer(report.machine, report.started)]
    out += bl.problems_footer(report.problems)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=500, help="refreshes measured per run")
    parser.add_argument("--warmup", type=int, default=20, help="refreshes not counted, first")
    parser.add_argument("--rounds", type=int, default=2, help="in-process runs per code tree")
    parser.add_argument("--baseline", type=Path, help="a second checkout to measure alike")
    parser.add_argument("--dataset", type=Path, default=bl.ML100K_DIR)
    parser.add_argument("--pace", type=lambda v: [float(x) for x in v.split(",") if x],
                        default=[0.0, 10.0], help="worker runs: jobs queued per second, "
                        "comma-separated (0: all at once; empty: no worker runs)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7, help="the viewers' order")
    parser.add_argument("--child", choices=("measure", "drain", "enqueue"), help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--viewer-ids", type=json.loads, help=argparse.SUPPRESS)
    bl.add_common_args(parser)
    parser.set_defaults(redis_url="redis://127.0.0.1:6379/13")
    args = parser.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(Path(args.code).resolve()))  # this tree's modules first
        if args.child == "enqueue":
            child_enqueue(args.viewer_ids, args.pace[0] if args.pace else 0.0)
            print("BENCH_JSON {}", flush=True)
        else:
            measured = child_drain if args.child == "drain" else child_measure
            print("BENCH_JSON " + json.dumps(measured(args.viewer_ids, args.warmup)))
        return 0
    if not (args.dataset / "u.data").exists():
        parser.error(f"{args.dataset} has no u.data (set --dataset or CBRTL_ML100K_DIR)")
    if args.viewers <= 0 or args.rounds <= 0 or args.warmup < 1 or min(args.pace, default=0) < 0:
        parser.error("--viewers and --rounds must be positive, --warmup at least 1, --pace >= 0")
    report = Report(
        args=dict(vars(args)),
        started=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=bl.machine_info(),
    )
    return bl.guarded_main(args, lambda: run(args, report), lambda: asdict(report))


if __name__ == "__main__":
    sys.exit(main())
