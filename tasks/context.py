"""Per-process resources for tasks: settings, engine, session factory, publisher.

Created lazily in the process that uses them; a forked pool child drops the
parent's pooled connections (never share a socket across fork).
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

import redis
from celery.signals import worker_process_init
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.broker import CeleryPublisher
from db.cache import make_cache
from db.engine import make_engine, make_session_factory
from db.media_urls import MediaUrls
from db.read_models.sync import install_title_sync
from db.read_models.titles import TitleStore
from db.services import ratings
from db.settings import Settings, load_settings_or_exit
from db.storage import Storage, make_storage


@cache
def settings() -> Settings:
    return load_settings_or_exit()


@cache
def engine() -> Engine:
    return make_engine(settings().resolved_database_url)


@cache
def publisher() -> CeleryPublisher:
    return CeleryPublisher(settings())


@cache
def cache_client() -> redis.Redis | None:
    return make_cache(settings())


@cache
def storage() -> Storage:
    return make_storage(settings())


@cache
def titles() -> TitleStore:
    return TitleStore(cache_client(), MediaUrls(settings(), storage()))


@cache
def session_factory() -> sessionmaker[Session]:
    factory = make_session_factory(engine(), publisher=publisher())
    install_title_sync(factory, titles())
    return factory


_PRIOR_TTL_S = 300.0
_prior: tuple[float, float | None] = (float("-inf"), None)


def prior_mean() -> float | None:
    """The global rating mean, recomputed at most every few minutes per process.

    It moves slowly, and scanning every rating on every recompute would not scale.
    """
    global _prior
    fetched_at, value = _prior
    if time.monotonic() - fetched_at > _PRIOR_TTL_S:
        with session_factory()() as session:
            value = ratings.global_mean(session=session)
        _prior = (time.monotonic(), value)
    return value


@worker_process_init.connect
def _dispose_inherited_pool(**_: Any) -> None:
    if engine.cache_info().currsize:
        engine().dispose(close=False)
