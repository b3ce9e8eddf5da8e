"""Shared harness of the bench/ scripts: throw-away PostgreSQL database and RabbitMQ
vhost, a moto S3 server, child processes stopped by their own ids, cleanup on every
exit path, gunicorn and Celery worker start-up, seeding, HTTP helpers, the wrk load
client and the machine description.

Scripts run as `python bench/<script>.py`, so this folder is on `sys.path` and they
`import benchlib`. Importing this module puts the checkout it sits in first on
`sys.path`: a bench measures that checkout (a clone of a given commit, say), not
whatever the editable install points at; children get the same PYTHONPATH.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import json
import math
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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# MovieLens ml-100k, read in place: CBRTL_ML100K_DIR, else shared/ beside the checkout.
ML100K_DIR = Path(
    os.environ.get("CBRTL_ML100K_DIR") or REPO.parent / "shared" / "datasets" / "ml-100k"
)
sys.path.insert(0, str(REPO))
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
AMQP_HOST = "127.0.0.1:5672"
PREFIX = "cbrtl_bench_"
PASSWORD = "bench-password-1234"
SCORES = [str(x / 2) for x in range(1, 11)]

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


def process_cpu() -> Iterator[tuple[int, int, str, float]]:
    """(pid, parent pid, command line, CPU seconds used so far) of every live process."""
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        yield int(proc.name), int(fields[1]), cmdline, (int(fields[11]) + int(fields[12])) / tick


def drain_jobs(database_url: str, timeout_s: float, job_type: str | None = None) -> float:
    """Wait until no job (of `job_type`, or of any type) is queued or running; returns
    the seconds waited."""
    start = time.monotonic()
    conn = pg_connect(database_url)
    conn.autocommit = True
    query = "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"
    try:
        while time.monotonic() - start < timeout_s:
            with conn.cursor() as cur:
                if job_type is None:
                    cur.execute(query)
                else:
                    cur.execute(query + " AND type = %s", (job_type,))
                if int(cur.fetchone()[0]) == 0:
                    return time.monotonic() - start
            time.sleep(0.2)
    finally:
        conn.close()
    raise RuntimeError(f"the queues did not drain within {timeout_s:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- S3 (moto)

# boto3 wants credentials even for moto; the bench's only S3 is a local moto server,
# so it gets the tests' fake ones, never real ones.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def moto_s3(procs: Processes, bucket: str, log_path: Path) -> Iterator[str]:
    """A moto S3 server on a loopback port over HTTP (as tests/services.py starts it)
    with `bucket` created; yields the endpoint URL, stops the server on the way out."""
    import boto3

    os.environ.update(FAKE_AWS)
    port = free_port()
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    argv = [exe, "-H", "127.0.0.1", "-p", str(port)]
    proc = procs.start("moto S3", argv, env=dict(os.environ), log_path=log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto exited ({proc.returncode}):\n{tail(log_path)}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto not up after 30 s:\n{tail(log_path)}") from None
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        procs.stop(proc)


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


def seed(
    database_url: str, *, users: int, items: int, unrated_users: int = 0
) -> tuple[list[str], list[int], list[str]]:
    """Users and content through the services; every (user, content) pair pre-rated
    (bulk insert). `unrated_users` more users rate nothing. Returns the rating users'
    emails, the content ids and the unrated users' emails."""
    from sqlalchemy import insert

    from db.engine import make_engine, make_session_factory
    from db.models import Rating
    from db.services.content import create_content
    from db.services.users import create_user

    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            emails, user_ids, content_ids, unrated = [], [], [], []
            for i in range(users + unrated_users):
                email = f"bench{i}@example.com"
                user = create_user(
                    session=session, email=email, password=PASSWORD, display_name=f"Bench {i}"
                )
                if i < users:
                    emails.append(email)
                    user_ids.append(user.id)
                else:
                    unrated.append(email)
            for j in range(items):
                item = create_content(session=session, owner_id=None, title=f"Bench item {j}")
                content_ids.append(item.id)
            session.commit()
            rows = [
                {"user_id": u, "content_id": c, "score": 3.0} for u in user_ids for c in content_ids
            ]
            if rows:
                session.execute(insert(Rating), rows)
            session.commit()
    finally:
        engine.dispose()
    vacuum_analyze(database_url)
    return emails, content_ids, unrated


def pg_connect(database_url: str) -> Any:
    """A psycopg2 connection to the bench database (SQLAlchemy URL accepted)."""
    import psycopg2

    return psycopg2.connect(database_url.replace("postgresql+psycopg2", "postgresql"))


def vacuum_analyze(database_url: str) -> None:
    """VACUUM cannot run in a transaction block; give the planner fresh statistics."""
    conn = pg_connect(database_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    finally:
        conn.close()


# --------------------------------------------------------------------------- HTTP helpers


def http_json(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 30,
    token: str | None = None,
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if payload else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
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

# The part of every wrk script that counts 200s and prints one BENCH_JSON line.
WRK_REPORT = r"""
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init_counts()
  math.randomseed(os.time() * 1000 + tid)
  ok = 0
  bad = 0
  last_bad = 0
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
"""

# Arguments: a file of access tokens and a file of content ids, one a line.
WRK_RATING = (
    r"""
-- PUT /api/v1/content/{id}/rating with a random token, content id and score.
local tokens, contents = {}, {}
local scores = {@SCORES@}

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  for line in io.lines(args[2]) do contents[#contents + 1] = line end
  init_counts()
end

function request()
  local token = tokens[math.random(#tokens)]
  local content = contents[math.random(#contents)]
  local body = '{"score": ' .. scores[math.random(#scores)] .. '}'
  return wrk.format("PUT", "/api/v1/content/" .. content .. "/rating",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
""".replace("@SCORES@", ", ".join(f'"{s}"' for s in SCORES))
    + WRK_REPORT
)

# Argument: a file of request paths, one a line; each request GETs a random one.
WRK_GET = (
    r"""
local paths = {}

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  init_counts()
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""
    + WRK_REPORT
)


def parse_bench_json(out: str) -> dict[str, Any]:
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line.removeprefix("BENCH_JSON ")))
    raise RuntimeError(f"client printed no result:\n{out[-2000:]}")


def run_client(
    procs: Processes, name: str, argv: Sequence[str], seconds: float, env: dict[str, str]
) -> dict[str, Any]:
    """Run a load client to its end; its BENCH_JSON line is the result."""
    proc = procs.start(name, argv, env=env, capture=True)
    try:
        out, err = proc.communicate(timeout=seconds + 60)
    finally:
        procs.stop(proc, grace_s=1)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} exited {proc.returncode}: {err.decode()[-2000:]}")
    return parse_bench_json(out.decode())


def wrk_argv(
    port: int, *, concurrency: int, seconds: float, script: Path, script_args: Sequence[str]
) -> list[str]:
    return [
        "wrk",
        "--threads", "1",  # one C thread drives it easily; leave the cores to the server
        "--connections", str(concurrency),
        "--duration", f"{max(1, round(seconds))}s",
        "--timeout", "10s",
        "--script", str(script),
        f"http://127.0.0.1:{port}",
        "--", *script_args,
    ]  # fmt: skip


class LoadClient:
    """Rating load: PUTs with a random token, content id and score, from wrk or
    (without wrk) python_client_main in a separate process."""

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
        self.script.write_text(WRK_RATING)
        self.set_tokens(tokens)
        self.content_file.write_text("".join(f"{c}\n" for c in content_ids))

    def set_tokens(self, tokens: Sequence[str]) -> None:
        self.tokens_file.write_text("".join(f"{t}\n" for t in tokens))

    def run(self, port: int, seconds: float) -> dict[str, Any]:
        files = [str(self.tokens_file), str(self.content_file)]
        env = dict(os.environ)
        if self.kind == "wrk":
            argv = wrk_argv(
                port,
                concurrency=self.concurrency,
                seconds=seconds,
                script=self.script,
                script_args=files,
            )
        else:
            code = "import sys, benchlib; benchlib.python_client_main(sys.argv[1:])"
            argv = [sys.executable, "-c", code, str(port), str(self.concurrency), str(seconds)]
            argv += files
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")])
            )
        return run_client(self.procs, f"{self.kind} client", argv, seconds, env)


def run_threads(count: int, target: Callable[[int], None]) -> float:
    """target(0), ..., target(count - 1) on threads of their own; the wall seconds taken."""
    start = time.monotonic()
    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - start


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

    run_threads(concurrency, worker)
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


def bench_env(
    args: argparse.Namespace, database_url: str, broker_url: str, data_dir: Path, port: int
) -> dict[str, str]:
    """server_env for this process's environment and the --workers/--threads/--redis-url
    arguments (a worker gets any port; it binds none)."""
    return server_env(
        dict(os.environ),
        database_url=database_url,
        broker_url=broker_url,
        data_dir=data_dir,
        port=port,
        workers=args.workers,
        threads=args.threads,
        redis_url=args.redis_url,
    )


def machine_footer(machine: dict[str, str], started: str) -> list[str]:
    """The last lines of every bench's Markdown."""
    return ["Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()) + ".",
            f"Started {started}."]  # fmt: skip


def problems_footer(problems: list[str]) -> list[str]:
    """The first warning/error lines of the platform's logs, if any, under a report."""
    if not problems:
        return []
    return ["", f"{len(problems)} warning/error log lines, first ones:",
            *(f"    {x[:200]}" for x in problems[:10])]  # fmt: skip


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


def start_worker(
    procs: Processes,
    env: dict[str, str],
    workdir: Path,
    broker_url: str,
    *,
    queues: str = "ratings,default",
    concurrency: int = 2,
    name: str = "worker",
) -> subprocess.Popen[bytes]:
    """A Procfile worker (by default `worker`: ratings and default, prefetch 4); returns
    once it consumes the first of its queues."""
    log_path = workdir / f"{name}.log"
    argv = [sys.executable, "-m", "celery", "--app", "workers.celery_app", "worker",
            "--queues", queues, "--concurrency", str(concurrency), "--prefetch-multiplier", "4",
            "--hostname", f"{name}-bench-{os.getpid()}@%h", "--loglevel", "WARNING"]  # fmt: skip
    proc = procs.start(f"celery {name}", argv, env=env, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}):\n{tail(log_path)}")
        state = queue_state(broker_url, queues.split(",")[0])
        if state and state[1] >= 1:
            return proc
        time.sleep(0.5)
    raise RuntimeError(f"{name} did not consume within 60s:\n{tail(log_path)}")


def cbrtl(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    """Run the `cbrtl` command line; its stdout and stderr, or RuntimeError with them."""
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"cbrtl {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout + done.stderr


def start_gunicorn(
    procs: Processes, name: str, app: Sequence[str], env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """gunicorn with the production settings module (gthread; workers and threads
    from CBRTL_WEB_WORKERS / CBRTL_WEB_THREADS in `env`) serving `app`."""
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:web.gunicorn_conf", *app]
    return procs.start(f"gunicorn {name}", argv, env=env, log_path=log_path)


def log_problems(path: Path) -> list[str]:
    """Warning, error and traceback lines of a server or worker log."""
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [x for x in lines if any(w in x for w in ("Traceback", "ERROR", "WARNING"))]


def add_load_args(
    parser: argparse.ArgumentParser, *, duration: float, warmup: float, concurrency: int
) -> None:
    """--duration, --warmup, --concurrency and --rounds with this script's defaults."""
    parser.add_argument(
        "--duration", type=float, default=duration, help="measured seconds per window"
    )
    parser.add_argument(
        "--warmup", type=float, default=warmup, help="warm-up seconds before each window"
    )
    parser.add_argument(
        "--concurrency", type=int, default=concurrency, help="keep-alive connections"
    )
    parser.add_argument("--rounds", type=int, default=3)


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
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


def guarded_main(args: argparse.Namespace, body: Callable[[], str], raw: Callable[[], Any]) -> int:
    """Run a bench with the signal handlers in place: print its Markdown, write the
    raw results when --json asks; 130 when a signal stopped it (cleaned up)."""
    os.chdir(REPO)
    install_signal_handlers()
    try:
        if args.cleanup_stale:
            cleanup_stale()
        text = body()
    except Interrupted as stop:
        log(f"interrupted ({stop}); everything was cleaned up")
        return 130
    print(text, flush=True)
    if args.json:
        args.json.write_text(json.dumps(raw(), indent=2, default=str))
    return 0


def bench_names() -> tuple[str, str, str]:
    """(name, database URL, broker URL) of this run's throw-away database and vhost."""
    name = f"{PREFIX}{os.getpid()}"
    return (
        name,
        f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}",
        f"amqp://guest:guest@{AMQP_HOST}/{name}",
    )


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of the values; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


# --------------------------------------------------------------------------- report


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
