"""Real task code on a scratch PostgreSQL database of its own.

The job runner opens and commits sessions of its own (and a heartbeat thread writes
beside it), so these tests cannot live in the rolled-back test transaction: each
module gets a throwaway database, dropped at its end.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import current_app
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

import tasks.media
import tasks.recommender
import tasks.trending  # noqa: F401 - registers the tasks these tests deliver to
from db.engine import make_session_factory
from db.storage.local import FileStorage
from tests import services


class SpyStorage:
    """Local storage that records what a task did to it."""

    def __init__(self, root: Path) -> None:
        self.inner = FileStorage(root)
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def download(self, key: str, dest: Path) -> Path:
        self.calls.append(("download", key))
        return self.inner.download(key, dest)

    def delete_prefix(self, prefix: str) -> int:
        self.calls.append(("delete_prefix", prefix))
        return self.inner.delete_prefix(prefix)

    def put_files(self, files: list[Any], *, workers: int = 8) -> None:
        self.calls.extend(("put", f.key) for f in files)
        self.inner.put_files(files, workers=workers)


@dataclass
class TaskEnv:
    factory: sessionmaker[Session]
    storage: SpyStorage
    cache: redis.Redis
    engine: Engine
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def scratch_engine() -> Iterator[Engine]:
    with services.migrated_engine("cbrtl_tasks") as engine:
        yield engine


@pytest.fixture
def tasks_on(
    scratch_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TaskEnv]:
    """Every tasks.* module's session factory, storage and cache point at the scratch ones."""
    factory = make_session_factory(scratch_engine)
    env = TaskEnv(
        factory=factory,
        storage=SpyStorage(tmp_path / "storage"),
        cache=redis.Redis.from_url(services.REDIS_URL),
        engine=scratch_engine,
    )
    stand_ins = {
        "session_factory": lambda: factory,
        "storage": lambda: env.storage,
        "cache_client": lambda: env.cache,
    }
    for name, module in list(sys.modules.items()):
        if name.startswith("tasks.") and module is not None:
            for attr, stand_in in stand_ins.items():
                if callable(getattr(module, attr, None)):
                    monkeypatch.setattr(module, attr, stand_in)
    yield env
    env.cache.close()


def before_first(engine: Engine, statement: str, other: Callable[[], None]) -> list[bool]:
    """Run `other` to its end, on a thread of its own, just before this engine first
    executes a statement starting with `statement`: a deterministic interleaving of two
    transactions. The returned list holds True once it happened."""
    happened: list[bool] = []

    def first(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if sql.startswith(statement) and not happened:
            happened.append(True)
            thread = threading.Thread(target=other)
            thread.start()
            thread.join(timeout=30)

    event.listen(engine, "before_cursor_execute", first)
    return happened


def deliver(task_name: str, job_id: int, *, redelivered: bool = False) -> None:
    """Run the registered Celery task in this process, as a worker's pool would."""
    task = current_app.tasks[task_name]
    task.push_request(delivery_info={"redelivered": redelivered})
    try:
        task.run(job_id)
    finally:
        task.pop_request()
