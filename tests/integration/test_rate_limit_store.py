"""The SQLite rate-limit storage: one count for every process sharing the file."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from db.rate_limit_store import SQLiteStorage, storage_uri
from web.rate_limits import limiter


def test_storages_on_one_file_share_the_count_under_concurrency(tmp_path: Path) -> None:
    uri = storage_uri(tmp_path / "limits.db")
    # Two instances stand for two processes: nothing is shared but the file.
    strategies = [MovingWindowRateLimiter(storage_from_string(uri)) for _ in range(2)]
    limit = parse("7 per minute")
    allowed: list[bool] = []
    start = threading.Barrier(8)

    def hammer(strategy: MovingWindowRateLimiter) -> None:
        start.wait(timeout=10)
        for _ in range(5):
            allowed.append(strategy.hit(limit, "login", "a@example.org"))

    threads = [threading.Thread(target=hammer, args=(strategies[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert allowed.count(True) == 7 and len(allowed) == 40
    # Another key has its own count; the window reports when it frees up.
    assert strategies[0].hit(limit, "login", "b@example.org")
    stats = strategies[1].get_window_stats(limit, "login", "a@example.org")
    assert stats.remaining == 0 and time.time() < stats.reset_time <= time.time() + 60


def test_clear_reset_and_fixed_window_counters(tmp_path: Path) -> None:
    storage = storage_from_string(storage_uri(tmp_path / "limits.db"))
    assert isinstance(storage, SQLiteStorage) and storage.check()
    strategy = MovingWindowRateLimiter(storage)
    limit = parse("1 per hour")
    assert strategy.hit(limit, "k") and not strategy.hit(limit, "k")
    strategy.clear(limit, "k")
    assert strategy.hit(limit, "k")
    assert [storage.incr("c", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("c") == 3 and storage.get_expiry("c") > time.time()
    assert storage.reset() == 2
    assert storage.get("c") == 0 and strategy.hit(limit, "k")


def test_without_redis_the_app_counts_in_the_data_dir(make_app: Any, tmp_path: Path) -> None:
    app = make_app(redis_url=None, data_dir=tmp_path, rate_limit_login_ip="2 per minute")
    client = app.test_client(use_cookies=False)
    wrong = {"email": "who@example.org", "password": "not the password"}
    statuses = [client.post("/api/v1/auth/login", json=wrong).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert isinstance(limiter.storage, SQLiteStorage)
    assert limiter.storage.path == (tmp_path / "rate_limits.db").resolve()
