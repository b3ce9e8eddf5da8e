"""Real platform processes (gunicorn, celery worker/beat) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

from db.migrate import upgrade
from tests import services
from tests.services import VENV_BIN, free_port, wait_for


def clean_env(**overrides: str) -> dict[str, str]:
    """The parent's environment without any CBRTL_* settings, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBRTL_") and k != "PORT"}
    env.update(overrides)
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def kill(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        """Signal the whole process group (celery's pool children too) and reap it."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        wait_for(
            lambda: not _group_alive(self.popen.pid), timeout=timeout, what=f"{self.name} gone"
        )

    def kill_pool(self) -> list[int]:
        """SIGKILL the worker's pool processes and what they started (ffmpeg), leaving the
        main process alive to notice, as an OOM kill of one child would."""
        doomed = descendants(self.popen.pid)
        assert doomed, f"{self.name} has no pool processes"
        for pid in doomed:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return doomed

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, theirs, ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        below = [child for child, parent in parents.items() if parent in frontier]
        found += below
        frontier = below
    return found


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Platform:
    """Starts processes with one environment, logs to files, stops them all."""

    env: dict[str, str]
    workdir: Path
    processes: list[Process] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, name: str, *argv: str, port: int | None = None) -> Process:
        log = self.workdir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                env={**self.env, "PORT": str(port or self.port)},
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def cbrtl(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(VENV_BIN / "cbrtl"), *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done

    def start_web(self, port: int | None = None) -> Process:
        """gunicorn on the platform's port, or on `port` (several replicas)."""
        port = port or self.port
        web = self.spawn(
            "web",
            str(VENV_BIN / "gunicorn"),
            "--config",
            "python:web.gunicorn_conf",
            "web.app:create_app()",
            port=port,
        )
        ready = f"http://127.0.0.1:{port}/readyz"
        wait_for(
            lambda: requests.get(ready, timeout=2).status_code == 200,
            timeout=60,
            what=f"web ready\n{web.tail()}",
        )
        return web

    def start_worker(self, queues: str = "ratings,default") -> Process:
        worker = self.spawn(
            "worker",
            str(VENV_BIN / "celery"),
            "--app",
            "workers.celery_app",
            "worker",
            "--queues",
            queues,
            "--concurrency",
            "1",
            "--hostname",
            f"e2e-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        )
        wait_for(
            lambda: "ready." in worker.log.read_text(errors="replace"),
            timeout=60,
            what=f"worker ready\n{worker.tail()}",
        )
        return worker

    def start_beat(self) -> Process:
        # Each beat its own schedule file, as on separate hosts: two beats sharing one
        # shelve file corrupt it, and that is not what a second beat replica does.
        schedule = self.workdir / f"celerybeat-schedule-{uuid.uuid4().hex[:6]}"
        return self.spawn(
            "beat",
            str(VENV_BIN / "celery"),
            "--app",
            "workers.celery_app",
            "beat",
            "--schedule",
            str(schedule),
            "--loglevel",
            "INFO",
        )

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.kill()


@contextmanager
def platform_on_services(workdir: Path, moto: services.MotoServer) -> Iterator[Platform]:
    """A migrated platform on PostgreSQL, RabbitMQ, Redis and S3 (moto), each fresh."""
    database = services.create_database("cbrtl_e2e")
    vhost = services.create_vhost()
    platform = Platform(
        env=clean_env(
            CBRTL_DATA_DIR=str(workdir / "var"),
            CBRTL_DATABASE_URL=database,
            CBRTL_BROKER_URL=f"{services.AMQP_BASE}/{vhost}",
            CBRTL_REDIS_URL=services.REDIS_URL,
            # Ids restart in every fresh database: keys must not meet another test's.
            CBRTL_STORAGE_URL=f"s3://cbrtl-test/e2e-{uuid.uuid4().hex[:8]}",
            CBRTL_S3_ENDPOINT_URL=moto.endpoint_url,
            CBRTL_SECRET_KEY="e2e-secret-key-that-is-long-enough-for-hs256",
            # Counters live in the shared Redis; limits have tests of their own.
            CBRTL_RATE_LIMIT_LOGIN_IP="100000 per minute",
            CBRTL_RATE_LIMIT_LOGIN_ACCOUNT="100000 per minute",
            CBRTL_RATE_LIMIT_REGISTER_IP="100000 per minute",
        ),
        workdir=workdir,
    )
    # Each platform starts with an empty cache: keys (user ids) repeat across databases.
    flush = redis.Redis.from_url(services.REDIS_URL)
    flush.flushdb()
    flush.close()
    try:
        upgrade(database)
        yield platform
    finally:
        platform.stop_all()
        services.delete_vhost(vhost)
        services.drop_database(database)


class Api:
    """A small HTTP client for the public API."""

    def __init__(self, base_url: str) -> None:
        self.base = f"{base_url}/api/v1"
        self.http = requests.Session()

    def call(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return self.http.request(method, self.base + path, headers=headers, timeout=10, **kw)

    def token(self, email: str, password: str) -> str:
        response = self.call("POST", "/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])
