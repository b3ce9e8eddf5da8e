"""Celery signals for the worker and beat processes: JSON logs, beat's heartbeat.

workers/celery_app.py imports this module, which connects the handlers:

- `setup_logging`: Celery leaves logging to us (db/log_setup.py), honouring
  --loglevel and --logfile;
- `beat_init`: each pass of beat's scheduler loop is stamped, and a thread copies
  the newest stamp to Redis (db/beat_heartbeat.py) at most once a second, so a
  slow or absent Redis never delays the schedule, and a wedged loop shows as an
  ageing heartbeat however alive the process is.
"""

from __future__ import annotations

import functools
import logging
import threading
from datetime import datetime
from typing import Any

import redis
from celery.beat import Service
from celery.signals import beat_init, setup_logging

from db import beat_heartbeat
from db.cache import make_cache
from db.log_setup import configure_logging
from db.models.base import utcnow
from db.settings import load_settings_or_exit

log = logging.getLogger(__name__)


@setup_logging.connect
def _configure_logging(
    loglevel: int | str | None = None, logfile: str | None = None, **_: Any
) -> None:
    configure_logging(load_settings_or_exit(), level=loglevel or None, logfile=logfile or None)


class BeatHeartbeat:
    """Stamps each scheduler pass; a daemon thread publishes the newest stamp."""

    def __init__(self, cache: redis.Redis, *, interval: float = 1.0) -> None:
        self.cache = cache
        self.interval = interval
        self.last_tick: datetime | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cbrtl-beat-heartbeat", daemon=True)

    def watch(self, scheduler: Any) -> None:
        """Wrap this scheduler's tick (whatever its class) and start publishing."""
        tick = scheduler.tick

        @functools.wraps(tick)
        def stamped(*args: Any, **kwargs: Any) -> Any:
            try:
                return tick(*args, **kwargs)
            finally:
                self.last_tick = utcnow()

        scheduler.tick = stamped
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        published: datetime | None = None
        failing = False
        while not self._stop.wait(self.interval):
            stamp = self.last_tick
            if stamp is None or stamp == published:
                continue
            try:
                beat_heartbeat.record(self.cache, stamp)
            except redis.RedisError as error:
                if not failing:  # once per outage, not once a second
                    log.warning("beat heartbeat: Redis is unreachable: %s", error)
                failing = True
                continue
            failing = False
            published = stamp


@beat_init.connect
def _start_heartbeat(sender: Service, **_: Any) -> BeatHeartbeat | None:
    cache = make_cache(load_settings_or_exit())
    if cache is None:
        return None  # no Redis: no heartbeat (operations reports none)
    heartbeat = BeatHeartbeat(cache)
    heartbeat.watch(sender.scheduler)
    return heartbeat
