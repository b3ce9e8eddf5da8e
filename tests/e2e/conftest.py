from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services
from tests.e2e.processes import Platform, clean_env, platform_on_services

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
    with platform_on_services(tmp_path, moto) as platform:
        yield platform
