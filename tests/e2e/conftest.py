from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from db.migrate import upgrade
from tests import services
from tests.e2e.processes import Platform, clean_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Platform]:
    """The embedded defaults: SQLite, the filesystem broker, local storage, no Redis."""
    platform = Platform(env=clean_env(CBRTL_DATA_DIR=str(tmp_path / "var")), workdir=tmp_path)
    platform.cbrtl("db", "upgrade")
    yield platform
    platform.stop_all()


@pytest.fixture
def on_services(tmp_path: Path, moto: services.MotoServer) -> Iterator[Platform]:
    """PostgreSQL, RabbitMQ, Redis and S3 (moto), each fresh for the test."""
    database = services.create_database("cbrtl_e2e")
    vhost = services.create_vhost()
    platform = Platform(
        env=clean_env(
            CBRTL_DATA_DIR=str(tmp_path / "var"),
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
        workdir=tmp_path,
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
