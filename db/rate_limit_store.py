"""Rate-limit counters in an SQLite file, shared by every process of one platform.

Without Redis, flask-limiter's memory:// keeps a count per process, so each
gunicorn worker allowed the whole limit. This is a `limits` storage registered by
its scheme (`cbrtl+sqlite:///path/to/file.db`): flask-limiter and its strategies use
it like any other backend. Each check-and-record runs under SQLite's write lock
(BEGIN IMMEDIATE), so concurrent hits from several processes never overshoot.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from limits.storage import MovingWindowSupport, Storage

SCHEME = "cbrtl+sqlite"
# Expired rows of other keys are swept every this many recorded hits.
SWEEP_EVERY = 500
# How long a hit waits for another process's write lock.
LOCK_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hits_key_at ON hits (key, at);
CREATE INDEX IF NOT EXISTS hits_expires ON hits (expires);
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL
);
"""


def storage_uri(path: Path) -> str:
    return f"{SCHEME}://{path.resolve()}"


class SQLiteStorage(Storage, MovingWindowSupport):
    """Moving-window entries (one row per hit) and fixed-window counters in one file."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool
    ) -> None:
        path = urllib.parse.urlparse(uri or "").path
        if not path:
            raise ValueError(f"{SCHEME}:// needs a file path, e.g. {SCHEME}:///var/limits.db")
        self.path = Path(path)
        self._local = threading.local()
        self._hits = 0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._prepare()

    def _prepare(self) -> None:
        """WAL mode (it stays with the file) and the tables, once per process.

        Switching the journal mode does not wait for other connections' locks as
        writes do, so processes starting together retry it briefly.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        try:
            while True:
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            conn.executescript(_SCHEMA)
        finally:
            conn.close()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process: a forked worker opens its own.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
            conn.execute("PRAGMA synchronous=NORMAL")  # a power cut may lose the last hits
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A transaction holding the write lock from its first read."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # Moving window: the strategy flask-limiter is configured with.

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._write() as conn:
            conn.execute("DELETE FROM hits WHERE key = ? AND at < ?", (key, now - expiry))
            (count,) = conn.execute("SELECT count(*) FROM hits WHERE key = ?", (key,)).fetchone()
            if count + amount > limit:
                return False
            conn.executemany(
                "INSERT INTO hits (key, at, expires) VALUES (?, ?, ?)",
                [(key, now, now + expiry)] * amount,
            )
            self._hits += 1
            if self._hits % SWEEP_EVERY == 0:
                conn.execute("DELETE FROM hits WHERE expires < ?", (now,))
                conn.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        oldest, count = (
            self._connection()
            .execute(
                "SELECT min(at), count(*) FROM hits WHERE key = ? AND at >= ?", (key, now - expiry)
            )
            .fetchone()
        )
        return (float(oldest), int(count)) if count else (now, 0)

    # Fixed window: counters, for limits declared with another strategy.

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._write() as conn:
            (value,) = conn.execute(
                """
                INSERT INTO counters (key, value, expires) VALUES (?1, ?2, ?3)
                ON CONFLICT (key) DO UPDATE SET
                    value = CASE WHEN expires <= ?4
                        THEN excluded.value ELSE value + excluded.value END,
                    expires = CASE WHEN expires <= ?4
                        THEN excluded.expires ELSE expires END
                RETURNING value
                """,
                (key, amount, now + expiry, now),
            ).fetchone()
        return int(value)

    def get(self, key: str) -> int:
        row = (
            self._connection()
            .execute("SELECT value FROM counters WHERE key = ? AND expires > ?", (key, time.time()))
            .fetchone()
        )
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = (
            self._connection()
            .execute("SELECT expires FROM counters WHERE key = ?", (key,))
            .fetchone()
        )
        return float(row[0]) if row else time.time()

    def check(self) -> bool:
        try:
            self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        with self._write() as conn:
            removed = conn.execute("DELETE FROM hits").rowcount
            removed += conn.execute("DELETE FROM counters").rowcount
        return removed

    def clear(self, key: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM hits WHERE key = ?", (key,))
            conn.execute("DELETE FROM counters WHERE key = ?", (key,))
