"""Home page rows that are the same for every viewer, kept briefly in each process.

Trending and a genre's best-rated titles do not depend on who asks, yet picking them
is a sorted query. Each web process keeps the rows' ids for CBRTL_HOME_ROWS_TTL_S
seconds (0: never kept); the documents come from the title read model, so an edited
title shows at once, and the viewer's own ratings are laid over them on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from cachetools import TTLCache
from flask import current_app

from web.runtime import runtime

EXTENSION = "cbrtl.shared_rows"
# Trending plus a row per genre that some viewer likes: the catalogue's genres, far
# fewer than this. The bound holds whatever the keys turn out to be.
MAX_ROWS = 256
Picked = list[Any]  # a row's title ids (or (id, owner) pairs for the new-title slot)


class SharedRows:
    def __init__(
        self,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_rows: int = MAX_ROWS,
    ) -> None:
        self.ttl_s = ttl_s
        # At most max_rows rows, each for ttl_s: least recently used go first.
        self._rows: TTLCache[str, Picked] = TTLCache(max_rows, max(ttl_s, 1e-9), timer=clock)
        self._lock = threading.Lock()  # a TTLCache is not safe across threads

    def __len__(self) -> int:
        with self._lock:
            self._rows.expire()
            return len(self._rows)

    def get(self, key: str, build: Callable[[], Picked]) -> Picked:
        """The row's picks, made at most once per TTL (two threads may both make
        a row that just expired; the later one's copy is kept, both are correct)."""
        if self.ttl_s <= 0:
            return build()
        with self._lock:
            hit = self._rows.get(key)
        if hit is not None:
            return hit
        documents = build()
        with self._lock:
            self._rows[key] = documents
        return documents


def shared_rows() -> SharedRows:
    """This app's row store (one per process, made on first use with the app's TTL)."""
    store: SharedRows | None = current_app.extensions.get(EXTENSION)
    if store is None:
        ttl_s = runtime().settings.home_rows_ttl_s
        store = current_app.extensions.setdefault(EXTENSION, SharedRows(ttl_s))
    return store
