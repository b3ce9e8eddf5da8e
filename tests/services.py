"""Throw-away resources on the real services the tests run against.

Each test run gets its own PostgreSQL database, RabbitMQ vhost, Redis database
number's key prefix and moto S3 server; all are removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from kombu import Connection
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from db.engine import make_engine
from db.migrate import upgrade

ADMIN_PG_URL = os.environ.get(
    "CBRTL_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
AMQP_BASE = os.environ.get("CBRTL_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")
# A parallel run (pytest-xdist) gives each worker its own Redis database: tests flush theirs.
XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
REDIS_URL = os.environ.get("CBRTL_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{15 - XDIST_WORKER}")
VENV_BIN = Path(sys.executable).parent


def wait_for(
    predicate: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> object:
    """Poll until predicate() is truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_error})"
    )


def wait_for_lock_wait(engine: Any, outcome: dict[str, Any], *, what: str) -> None:
    """Poll until the backend whose pid a thread put in outcome["pid"] waits on a lock."""
    with Session(engine) as observer:

        def waiting() -> bool:
            return (
                "pid" in outcome
                and observer.scalar(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": outcome["pid"]},
                )
                == "Lock"
            )

        wait_for(waiting, timeout=10, what=what)


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_admin() -> psycopg2.extensions.connection:
    url = make_url(ADMIN_PG_URL)
    conn = psycopg2.connect(
        host=url.host, port=url.port or 5432, user=url.username, dbname=url.database
    )
    conn.autocommit = True
    return conn


def create_database(prefix: str = "cbrtl_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with closing(_pg_admin()) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    return make_url(ADMIN_PG_URL).set(database=name).render_as_string(hide_password=False)


@contextmanager
def migrated_engine(prefix: str) -> Iterator[Engine]:
    """An engine on a database of its own, at the newest schema, dropped afterwards:
    for tests whose threads or processes must see each other's commits."""
    url = create_database(prefix)
    try:
        upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()
    finally:
        drop_database(url)


def drop_database(url: str) -> None:
    name = make_url(url).database
    with closing(_pg_admin()) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def create_vhost() -> str:
    name = f"cbrtl_test_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return name


def delete_vhost(name: str) -> None:
    _rabbitmqctl("delete_vhost", name)


@dataclass
class MotoServer:
    process: subprocess.Popen[bytes]
    endpoint_url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_moto() -> MotoServer:
    port = free_port()
    exe = shutil.which("moto_server", path=str(VENV_BIN)) or "moto_server"
    process = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"

    def up() -> bool:
        with closing(socket.create_connection(("127.0.0.1", port), timeout=0.5)):
            return True

    wait_for(up, timeout=30, what="moto server")
    return MotoServer(process, endpoint)


def drain_job_ids(conn: Connection, queue: str = "ratings") -> list[int]:
    """The job ids of the stats messages waiting in `queue`, taken off it."""
    ids = []
    while (message := conn.default_channel.basic_get(queue=queue, no_ack=True)) is not None:
        args, _kwargs, _embed = json.loads(message.body)
        assert message.headers["task"] == "cbrtl.ratings.recompute_stats"
        ids.append(args[0])
    return ids


def cbrtl(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed command line, with `env` added to this process's environment."""
    return subprocess.run(
        [str(VENV_BIN / "cbrtl"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
