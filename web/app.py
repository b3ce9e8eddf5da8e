"""The Flask application factory: `gunicorn 'web.app:create_app()'`."""

from __future__ import annotations

import logging

from flask import Flask
from flask_smorest import Api

from db.broker import CeleryPublisher
from db.cache import make_cache
from db.engine import make_engine, make_session_factory
from db.settings import Settings, load_settings_or_exit
from db.storage import make_storage
from web.auth.tokens import init_jwt
from web.auth.views import blp as accounts_blp
from web.content.views import blp as catalogue_blp
from web.errors import register_error_handlers
from web.health.views import blp as health_blp
from web.runtime import EXTENSION, Runtime, close_db_session

API_PREFIX = "/api/v1"


def build_runtime(settings: Settings) -> Runtime:
    publisher = CeleryPublisher(settings)
    engine = make_engine(settings.resolved_database_url)
    return Runtime(
        settings=settings,
        session_factory=make_session_factory(engine, publisher=publisher),
        publisher=publisher,
        storage=make_storage(settings),
        cache=make_cache(settings),
    )


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    settings = settings or (runtime.settings if runtime else load_settings_or_exit())
    logging.basicConfig(level=settings.log_level)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key,
        API_TITLE="cbrtl",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=1024 * 1024,  # JSON bodies; uploads get their own route and limit
        JSON_SORT_KEYS=False,
    )
    app.extensions[EXTENSION] = runtime or build_runtime(settings)
    app.teardown_appcontext(close_db_session)

    api = Api(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.register_blueprint(health_blp, url_prefix="/")
    api.register_blueprint(accounts_blp, url_prefix=API_PREFIX)
    api.register_blueprint(catalogue_blp, url_prefix=API_PREFIX)
    init_jwt(app, settings.resolved_secret_key)
    # After Api(): ours replace flask-smorest's handlers, so every error has one shape.
    register_error_handlers(app)
    return app
