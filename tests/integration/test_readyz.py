"""Readiness checks each real dependency and reports the one that is down."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask

from db.broker import CeleryPublisher
from db.cache import make_cache
from db.engine import make_engine, make_session_factory
from db.settings import Settings
from db.storage import make_storage
from tests.services import free_port
from web.runtime import Runtime


def test_healthz(client) -> None:
    assert client.get("/healthz").status_code == 200


def test_readyz_all_ok_on_real_services(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {
        "database": "ok",
        "broker": "ok",
        "cache": "ok",
        "storage": "ok",
    }


def test_readyz_names_what_is_down(app: Flask, settings: Settings) -> None:
    closed = free_port()
    broken = settings.model_copy(
        update={
            "broker_url": f"amqp://guest:guest@127.0.0.1:{closed}//",
            "redis_url": f"redis://127.0.0.1:{closed}/0",
            "storage_url": "s3://no-such-bucket/x",
        }
    )
    runtime: Runtime = app.extensions["cbrtl"]
    app.extensions["cbrtl"] = replace(
        runtime,
        settings=broken,
        publisher=CeleryPublisher(broken),
        storage=make_storage(broken),
        cache=make_cache(broken),
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json["checks"] == {
        "database": "ok",
        "broker": "down",
        "cache": "degraded",
        "storage": "down",
    }
    assert response.json["status"] == "down"


def test_cache_down_is_degraded_and_still_ready(make_app) -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert "Retry-After" not in response.headers
    assert response.json == {
        "status": "degraded",
        "checks": {"database": "ok", "broker": "ok", "cache": "degraded", "storage": "ok"},
    }


def test_no_cache_configured_is_ok(app: Flask, settings: Settings) -> None:
    runtime: Runtime = app.extensions["cbrtl"]
    runtime.cache = None
    assert app.test_client().get("/readyz").json["checks"]["cache"] == "ok"


def test_database_down_is_503_with_retry_after(app: Flask) -> None:
    closed = free_port()
    engine = make_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{closed}/none")
    runtime: Runtime = app.extensions["cbrtl"]
    app.extensions["cbrtl"] = replace(runtime, session_factory=make_session_factory(engine))
    try:
        response = app.test_client().get("/readyz")
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json["status"] == "down"
    assert response.json["checks"]["database"] == "down"
