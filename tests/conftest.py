"""Fixtures on real services: PostgreSQL, RabbitMQ, Redis, moto S3."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from db.broker import CeleryPublisher
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.settings import Settings
from tests import services
from web.app import build_runtime, create_app
from web.rate_limits import limiter

# boto3 wants credentials even for moto; never real ones.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
)
BUCKET = "cbrtl-test"


# Transcodes name their working folders by job id, and ids restart in every fresh
# database: parallel workers get a temporary folder each.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _tmp = Path(tempfile.gettempdir()) / f"cbrtl-{os.environ['PYTEST_XDIST_WORKER']}"
    _tmp.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(_tmp)
    tempfile.tempdir = None

# Tests that transcode or drive Chromium share one xdist worker (one ffmpeg at a time on
# two cores); the rest spread over both.
HEAVY = (
    "tests/browser/",
    "tests/e2e/test_video.py",
    "tests/e2e/test_faults.py",
    "tests/e2e/test_delete_title.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(HEAVY):
            item.add_marker(pytest.mark.xdist_group("media"))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = services.create_database()
    try:
        upgrade(url)
        yield url
    finally:
        services.drop_database(url)


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def amqp_vhost() -> Iterator[str]:
    name = services.create_vhost()
    yield name
    services.delete_vhost(name)


@pytest.fixture(scope="session")
def amqp_url(amqp_vhost: str) -> str:
    return f"{services.AMQP_BASE}/{amqp_vhost}"


@pytest.fixture(scope="session")
def moto() -> Iterator[services.MotoServer]:
    server = services.start_moto()
    boto3.client("s3", endpoint_url=server.endpoint_url).create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(services.REDIS_URL)
    client.flushdb()
    client.close()
    return services.REDIS_URL


@pytest.fixture(scope="session")
def settings(
    pg_url: str, amqp_url: str, redis_url: str, moto: services.MotoServer, tmp_path_factory: Any
) -> Settings:
    """Settings for the real services (PostgreSQL, RabbitMQ, Redis, S3 on moto)."""
    data_dir: Path = tmp_path_factory.mktemp("data")
    return Settings(
        data_dir=data_dir,
        database_url=pg_url,
        broker_url=amqp_url,
        redis_url=redis_url,
        storage_url=f"s3://{BUCKET}/media",
        s3_endpoint_url=moto.endpoint_url,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        env="test",
        # Tests change the catalogue between requests and expect to see it at once.
        home_rows_ttl_s=0,
    )


@pytest.fixture(scope="session")
def publisher(settings: Settings) -> CeleryPublisher:
    return CeleryPublisher(settings)


@pytest.fixture
def connection(pg_engine: Engine) -> Iterator[Connection]:
    """One connection per test, inside a transaction rolled back at the end."""
    with pg_engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session_factory(connection: Connection, publisher: CeleryPublisher) -> Any:
    # Sessions commit to savepoints of the test's transaction.
    return make_session_factory(
        connection, publisher=publisher, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
def db_session(session_factory: Any) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def make_app(settings: Settings, session_factory: Any, publisher: CeleryPublisher) -> Any:
    """An app on the test's transaction, with settings changed as the test asks."""

    def build(**changes: Any) -> Flask:
        return _app(settings.model_copy(update=changes), session_factory, publisher)

    return build


@pytest.fixture
def app(make_app: Any) -> Flask:
    return make_app()


def _app(settings: Settings, session_factory: Any, publisher: CeleryPublisher) -> Flask:
    runtime = build_runtime(settings, session_factory=session_factory, publisher=publisher)
    app = create_app(runtime=runtime)
    with suppress(redis.RedisError):  # some tests point at a Redis that is down on purpose
        limiter.reset()  # counters live in Redis across tests; each test starts afresh
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
