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
import contextlib
import ctypes
import datetime as dt
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# Measure the checkout this script sits in (a clone of a given commit, say), not
# whatever the editable install points at; children get the same PYTHONPATH.
sys.path.insert(0, str(REPO))
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
AMQP_HOST = "127.0.0.1:5672"
PREFIX = "cbrtl_bench_"
PASSWORD = "bench-password-1234"
SCORES = [str(x / 2) for x in range(1, 11)]

VARIANTS = {
    "enqueue": "rating + jobs row + publish to RabbitMQ (production)",
    "no-enqueue": "rating only (enqueue patched out)",
    "enqueue+worker": "production, with a ratings worker draining the queue",
}


# --------------------------------------------------------------------------- signals


class Interrupted(BaseException):
    """A signal asked us to stop; `finally` blocks clean up."""


def _raise_interrupted(signum: int, _frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupted)


def ignore_signals() -> None:
    """While cleaning up: a second Ctrl-C must not leave half the mess behind."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes

_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:
    """In the child, before exec: die with us even if we are SIGKILLed."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Processes:
    """Every child we start, each in its own session (pgid == pid) so we can stop
    it and whatever it forked by that id, and nothing else."""

    def __init__(self) -> None:
        self.running: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        log_path: Path | None = None,
        capture: bool = False,
    ) -> subprocess.Popen[bytes]:
        if capture:
            stdout: Any = subprocess.PIPE
        else:
            assert log_path is not None
            stdout = log_path.open("ab")
        try:
            proc = subprocess.Popen(
                list(argv),
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT if not capture else subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_child_setup,  # we are single-threaded here
            )
        finally:
            if not capture:
                stdout.close()
        self.running[proc.pid] = (name, proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], *, grace_s: float = 15.0) -> None:
        """SIGTERM the main process (graceful), then SIGKILL its group for stragglers."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace_s)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        self.running.pop(proc.pid, None)

    def stop_all(self) -> None:
        for _pid, (name, proc) in reversed(list(self.running.items())):
            log(f"stopping {name} (pid {proc.pid})")
            self.stop(proc)


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def cpu_busy_pct(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- PostgreSQL / RabbitMQ


def pg_admin(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(connect_timeout=10, **PG_ADMIN)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def create_database(name: str) -> None:
    pg_admin(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rabbitmqctl(*args: str, check: bool = True) -> str:
    done = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=120, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip() or done.stdout}")
    return done.stdout


def create_vhost(name: str) -> None:
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")


def delete_vhost(name: str) -> None:
    rabbitmqctl("delete_vhost", name, check=False)


def queue_state(broker_url: str, queue: str) -> tuple[int, int] | None:
    """(messages ready, consumers) of a queue, or None when it does not exist yet."""
    from kombu import Connection

    try:
        with Connection(broker_url, connect_timeout=5) as conn:
            result = conn.default_channel.queue_declare(queue=queue, passive=True)
            return int(result.message_count), int(result.consumer_count)
    except Exception:
        return None


def cleanup_stale() -> None:
    """Drop cbrtl_bench_<pid> databases and vhosts whose pid no longer runs."""

    def stale(name: str) -> bool:
        match = re.fullmatch(rf"{PREFIX}(\d+)", name)
        return match is not None and not Path(f"/proc/{match.group(1)}").exists()

    for (name,) in pg_admin(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", [PREFIX + "%"]
    ):
        if stale(name):
            log(f"dropping stale database {name}")
            drop_database(name)
    for name in rabbitmqctl("list_vhosts", "-q", "name").split():
        if stale(name):
            log(f"deleting stale vhost {name}")
            delete_vhost(name)


# --------------------------------------------------------------------------- seeding


def seed(database_url: str, *, users: int, items: int) -> tuple[list[str], list[int]]:
    """Users and content through the services; every pair pre-rated (bulk insert)."""
    from sqlalchemy import insert

    from db.engine import make_engine, make_session_factory
    from db.models import Rating
    from db.services.content import create_content
    from db.services.users import create_user

    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            emails, user_ids, content_ids = [], [], []
            for i in range(users):
                email = f"bench{i}@example.com"
                user = create_user(
                    session=session, email=email, password=PASSWORD, display_name=f"Bench {i}"
                )
                emails.append(email)
                user_ids.append(user.id)
            for j in range(items):
                item = create_content(session=session, owner_id=None, title=f"Bench item {j}")
                content_ids.append(item.id)
            session.commit()
            rows = [
                {"user_id": u, "content_id": c, "score": 3.0} for u in user_ids for c in content_ids
            ]
            session.execute(insert(Rating), rows)
            session.commit()
    finally:
        engine.dispose()
    # VACUUM cannot run in a transaction block; give the planner fresh statistics.
    import psycopg2

    conn = psycopg2.connect(database_url.replace("postgresql+psycopg2", "postgresql"))
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    finally:
        conn.close()
    return emails, content_ids


def db_counts(database_url: str) -> dict[str, int]:
    import psycopg2

    conn = psycopg2.connect(database_url.replace("postgresql+psycopg2", "postgresql"))
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


# --------------------------------------------------------------------------- HTTP helpers


def http_json(
    port: int, method: str, path: str, body: Any = None, timeout: float = 30
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if payload else {}
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw.decode(errors="replace")
    finally:
        conn.close()


def wait_healthy(
    port: int, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on :{port} exited ({proc.returncode}):\n{tail(log_path)}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if http_json(port, "GET", "/healthz", timeout=2)[0] == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"server on :{port} not healthy after {timeout}s:\n{tail(log_path)}")


def login_all(port: int, emails: Sequence[str]) -> list[str]:
    tokens = []
    for email in emails:
        status, body = http_json(
            port, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD}
        )
        if status != 200:
            raise RuntimeError(f"login {email}: HTTP {status} {body}")
        tokens.append(body["access_token"])
    return tokens


# --------------------------------------------------------------------------- load clients

WRK_SCRIPT = r"""
-- PUT /api/v1/content/{id}/rating with a random token, content id and score.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local tokens, contents = {}, {}
local scores = {@SCORES@}

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  for line in io.lines(args[2]) do contents[#contents + 1] = line end
  math.randomseed(os.time() * 1000 + tid)
  ok = 0
  bad = 0
  last_bad = 0
end

function request()
  local token = tokens[math.random(#tokens)]
  local content = contents[math.random(#contents)]
  local body = '{"score": ' .. scores[math.random(#scores)] .. '}'
  return wrk.format("PUT", "/api/v1/content/" .. content .. "/rating",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1; last_bad = status end
end

function done(summary, latency, requests)
  local ok_total, bad_total, last = 0, 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    bad_total = bad_total + t:get("bad")
    if t:get("last_bad") ~= 0 then last = t:get("last_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"responses": %d, "elapsed_s": %.6f, "ok": %d, "non200": %d, ' ..
    '"last_non200_status": %d, "socket_errors": %d, "timeouts": %d, ' ..
    '"socket_detail": "connect %d, read %d, write %d", ' ..
    '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, ok_total, bad_total, last,
    e.connect + e.read + e.write, e.timeout, e.connect, e.read, e.write,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3))
end
""".replace("@SCORES@", ", ".join(f'"{s}"' for s in SCORES))


def parse_bench_json(out: str) -> dict[str, Any]:
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line.removeprefix("BENCH_JSON ")))
    raise RuntimeError(f"client printed no result:\n{out[-2000:]}")


class LoadClient:
    def __init__(
        self,
        kind: str,
        procs: Processes,
        workdir: Path,
        tokens: Sequence[str],
        content_ids: Sequence[int],
        concurrency: int,
    ) -> None:
        self.kind, self.procs, self.concurrency = kind, procs, concurrency
        self.tokens_file = workdir / "tokens.txt"
        self.content_file = workdir / "content_ids.txt"
        self.script = workdir / "rating.lua"
        self.script.write_text(WRK_SCRIPT)
        self.set_tokens(tokens)
        self.content_file.write_text("".join(f"{c}\n" for c in content_ids))

    def set_tokens(self, tokens: Sequence[str]) -> None:
        self.tokens_file.write_text("".join(f"{t}\n" for t in tokens))

    def run(self, port: int, seconds: float) -> dict[str, Any]:
        if self.kind == "wrk":
            argv = [
                "wrk",
                "--threads", "1",  # one C thread drives it easily; leave the cores to the server
                "--connections", str(self.concurrency),
                "--duration", f"{max(1, round(seconds))}s",
                "--timeout", "10s",
                "--script", str(self.script),
                f"http://127.0.0.1:{port}",
                "--", str(self.tokens_file), str(self.content_file),
            ]  # fmt: skip
        else:
            argv = [
                sys.executable, str(Path(__file__).resolve()), "--client-process",
                f"{port}", str(self.concurrency), str(seconds),
                str(self.tokens_file), str(self.content_file),
            ]  # fmt: skip
        proc = self.procs.start(f"{self.kind} client", argv, env=dict(os.environ), capture=True)
        try:
            out, err = proc.communicate(timeout=seconds + 60)
        finally:
            self.procs.stop(proc, grace_s=1)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.kind} exited {proc.returncode}: {err.decode()[-2000:]}")
        return parse_bench_json(out.decode())


def python_client_main(argv: Sequence[str]) -> None:
    """The fallback load client (separate process): keep-alive http.client threads."""
    port, concurrency, seconds = int(argv[0]), int(argv[1]), float(argv[2])
    tokens = Path(argv[3]).read_text().split()
    contents = Path(argv[4]).read_text().split()
    start = time.monotonic()
    end = start + seconds
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    counts = [{"ok": 0, "bad": 0, "errors": 0, "last_bad": 0} for _ in range(concurrency)]

    def worker(index: int) -> None:
        rng = random.Random(index * 7919 + os.getpid())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine, count = latencies[index], counts[index]
        while time.monotonic() < end:
            path = f"/api/v1/content/{rng.choice(contents)}/rating"
            body = f'{{"score": {rng.choice(SCORES)}}}'
            headers = {
                "Authorization": f"Bearer {rng.choice(tokens)}",
                "Content-Type": "application/json",
            }
            t0 = time.perf_counter()
            try:
                conn.request("PUT", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                count["errors"] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append(time.perf_counter() - t0)
            if resp.status == 200:
                count["ok"] += 1
            else:
                count["bad"] += 1
                count["last_bad"] = resp.status
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    lat = sorted(x * 1e3 for chunk in latencies for x in chunk) or [0.0]

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))]

    result = {
        "responses": len(lat),
        "elapsed_s": elapsed,
        "ok": sum(c["ok"] for c in counts),
        "non200": sum(c["bad"] for c in counts),
        "last_non200_status": max(c["last_bad"] for c in counts),
        "socket_errors": sum(c["errors"] for c in counts),
        "socket_detail": f"{sum(c['errors'] for c in counts)} (OSError/HTTPException)",
        "timeouts": 0,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": lat[-1],
        "mean_ms": statistics.fmean(lat),
    }
    print("BENCH_JSON " + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- the run


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


def machine_info() -> dict[str, str]:
    info: dict[str, str] = {}
    info["nproc"] = str(len(os.sched_getaffinity(0)))
    meminfo = Path("/proc/meminfo").read_text()
    kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    info["memory"] = f"{kb / 1024 / 1024:.1f} GiB"
    models = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    info["cpu"] = models[0].strip() if models else platform.processor()
    info["kernel"] = platform.release()
    info["code"] = code_version()
    info["python"] = platform.python_version()
    with contextlib.suppress(Exception):
        info["postgresql"] = str(pg_admin("SHOW server_version")[0][0])
    with contextlib.suppress(Exception):
        info["rabbitmq"] = rabbitmqctl("version").strip()
    with contextlib.suppress(Exception):
        import celery
        import gunicorn
        import kombu
        import sqlalchemy

        info["libs"] = (
            f"gunicorn {gunicorn.__version__}, celery {celery.__version__}, "
            f"kombu {kombu.__version__}, SQLAlchemy {sqlalchemy.__version__}"
        )
    if shutil.which("wrk"):
        with contextlib.suppress(Exception):
            first = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
            info["wrk"] = first.splitlines()[0].split(" Copyright")[0].removeprefix("wrk ")
    return info


def code_version() -> str:
    """The commit measured, and whether production code had uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        rev = git("log", "-1", "--format=%h %s")
        dirty = git("status", "--porcelain", "--", "web", "db", "tasks", "workers", "migrations")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{rev}" + (" + uncommitted changes in production code" if dirty else " (clean)")


def server_env(
    base: dict[str, str],
    *,
    database_url: str,
    broker_url: str,
    data_dir: Path,
    port: int,
    workers: int,
    threads: int,
    redis_url: str | None,
) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("CBRTL_")}
    env.update(
        CBRTL_DATABASE_URL=database_url,
        CBRTL_BROKER_URL=broker_url,
        CBRTL_DATA_DIR=str(data_dir),
        CBRTL_SECRET_KEY="bench-secret-key-not-for-production-0123456789",
        CBRTL_BIND="127.0.0.1",
        PORT=str(port),
        CBRTL_WEB_WORKERS=str(workers),
        CBRTL_WEB_THREADS=str(threads),
        # The set-up logs every bench user in from 127.0.0.1; the login limits would
        # otherwise answer 429 after 30 (a documented setting, not a code change).
        CBRTL_RATE_LIMIT_LOGIN_IP="100000 per minute",
        CBRTL_RATE_LIMIT_LOGIN_ACCOUNT="100000 per minute",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH")])),
    )
    if redis_url:
        env["CBRTL_REDIS_URL"] = redis_url
    return env


@contextlib.contextmanager
def bench_resources(name: str, procs: Processes, keep_logs: Path | None) -> Iterator[Path]:
    """Database, vhost and temp dir; on the way out, whatever happens, the processes
    are stopped first, then all three are removed."""
    workdir = Path(tempfile.mkdtemp(prefix=name + "_"))
    created: list[str] = []
    try:
        created.append("database")
        log(f"creating database {name} and vhost {name}")
        create_database(name)
        created.append("vhost")
        create_vhost(name)
        yield workdir
    finally:
        ignore_signals()
        procs.stop_all()
        if "vhost" in created:
            log(f"deleting vhost {name}")
            try:
                delete_vhost(name)
            except Exception as error:  # keep cleaning
                log(f"could not delete vhost {name}: {error}")
        if "database" in created:
            log(f"dropping database {name}")
            try:
                drop_database(name)
            except Exception as error:
                log(f"could not drop database {name}: {error}")
        if keep_logs is not None:
            keep_logs.mkdir(parents=True, exist_ok=True)
            for path in workdir.glob("*.log"):
                shutil.copy2(path, keep_logs / path.name)
            log(f"server and worker logs copied to {keep_logs}")
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace) -> Report:
    name = f"{PREFIX}{os.getpid()}"
    database_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    broker_url = f"amqp://guest:guest@{AMQP_HOST}/{name}"
    client_kind = args.client
    if client_kind == "auto":
        client_kind = "wrk" if shutil.which("wrk") else "python"
    variants = ["enqueue", "no-enqueue"] + (["enqueue+worker"] if args.with_worker else [])

    report = Report(
        args={k: v for k, v in vars(args).items() if k != "client_process"},
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
            emails, content_ids = seed(database_url, users=args.users, items=args.items)

            ports = {"enqueue": free_port(), "no-enqueue": free_port()}
            apps = {
                "enqueue": ["web.app:create_app()"],
                "no-enqueue": ["--pythonpath", str(BENCH_DIR), "wsgi_no_enqueue:application"],
            }
            servers = {}
            for variant, port in ports.items():
                env = server_env(
                    dict(os.environ),
                    database_url=database_url,
                    broker_url=broker_url,
                    data_dir=workdir,
                    port=port,
                    workers=args.workers,
                    threads=args.threads,
                    redis_url=args.redis_url,
                )
                log_path = workdir / f"gunicorn-{variant}.log"
                argv = [sys.executable, "-m", "gunicorn", "--config", "python:web.gunicorn_conf",
                        *apps[variant]]  # fmt: skip
                servers[variant] = (
                    procs.start(f"gunicorn {variant}", argv, env=env, log_path=log_path),
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
            worker_env = server_env(
                dict(os.environ),
                database_url=database_url,
                broker_url=broker_url,
                data_dir=workdir,
                port=1,
                workers=1,
                threads=1,
                redis_url=args.redis_url,
            )

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
                lines = log_path.read_text(errors="replace").splitlines()
                errors = [
                    x for x in lines if any(w in x for w in ("Traceback", "ERROR", "WARNING"))
                ]
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


def start_worker(
    procs: Processes, env: dict[str, str], workdir: Path, broker_url: str
) -> subprocess.Popen[bytes]:
    """The Procfile's ratings worker; returns once it consumes the ratings queue."""
    log_path = workdir / "worker.log"
    argv = [sys.executable, "-m", "celery", "--app", "workers.celery_app", "worker",
            "--queues", "ratings,default", "--concurrency", "2", "--prefetch-multiplier", "4",
            "--hostname", f"ratings-bench-{os.getpid()}@%h", "--loglevel", "WARNING"]  # fmt: skip
    proc = procs.start("celery worker", argv, env=env, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited ({proc.returncode}):\n{tail(log_path)}")
        state = queue_state(broker_url, "ratings")
        if state and state[1] >= 1:
            return proc
        time.sleep(0.5)
    raise RuntimeError(f"worker did not consume within 60s:\n{tail(log_path)}")


# --------------------------------------------------------------------------- report


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


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
        "Machine: " + "; ".join(f"{k} {v}" for k, v in report.machine.items()) + ".",
        f"Started {report.started}.",
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--client-process"]:
        python_client_main(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration", type=float, default=20, help="measured seconds per variant and round"
    )
    parser.add_argument(
        "--warmup", type=float, default=3, help="warm-up seconds before each measurement"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--items", type=int, default=200, help="content items")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--with-worker",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure enqueue with a ratings worker draining the queue",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--logs", type=Path, help="copy the gunicorn and worker logs here")
    parser.add_argument(
        "--redis-url",
        help="give the servers CBRTL_REDIS_URL (token blocklist and rate-limit counters in "
        "Redis instead of a database lookup / process memory); default: no Redis",
    )
    parser.add_argument(
        "--cleanup-stale",
        action="store_true",
        help="first drop cbrtl_bench_<pid> databases/vhosts of dead pids",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.rounds < 1 or args.duration < 1:
        parser.error("--concurrency, --rounds and --duration must be positive")

    os.chdir(REPO)
    install_signal_handlers()
    try:
        if args.cleanup_stale:
            cleanup_stale()
        report = run(args)
    except Interrupted as stop:
        log(f"interrupted ({stop}); everything was cleaned up")
        return 130
    text = markdown(report)
    print(text, flush=True)
    if args.json:
        args.json.write_text(
            json.dumps(
                {**asdict(report), "args": {k: str(v) for k, v in report.args.items()}}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
