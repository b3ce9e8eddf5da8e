"""The Flask application factory: `gunicorn 'web.app:create_app()'`."""

from __future__ import annotations

from functools import partial

from flask import Flask
from flask_compress import Compress
from flask_smorest import Api
from sqlalchemy.orm import Session, sessionmaker

from db.blocklist import Blocklist
from db.broker import CeleryPublisher
from db.cache import make_cache
from db.engine import make_engine, make_session_factory
from db.log_setup import configure_logging
from db.media_urls import MediaUrls
from db.outbox import BackgroundPublisher
from db.read_models.list_reads import ListReads
from db.read_models.recent_ratings import RecentRatings
from db.read_models.sync import install_title_sync
from db.read_models.titles import TitleStore
from db.settings import Settings, load_settings_or_exit
from db.storage import make_storage
from web.account.views import blp as account_blp
from web.admin.models import blp as models_blp
from web.admin.operations import blp as operations_blp
from web.admin.schedules import blp as schedules_blp
from web.auth.revocation import init_revocation
from web.auth.tokens import REFRESH_TTL, init_jwt
from web.auth.views import blp as auth_blp
from web.content.views import blp as catalogue_blp
from web.converters import IdConverter, UploadIdConverter, id_schema, upload_id_schema
from web.discovery.recommendations import blp as recommendations_blp
from web.discovery.views import blp as discovery_blp
from web.errors import ErrorEnvelope, register_error_handlers
from web.health.views import blp as health_blp
from web.input import init_json_bodies
from web.jobs.views import blp as jobs_blp
from web.media.files import blp as media_files_blp
from web.media.views import blp as video_blp
from web.metrics import blp as metrics_blp
from web.metrics import init_metrics
from web.pages.account import blp as account_pages
from web.pages.catalogue import blp as catalogue_pages
from web.pages.operations import blp as operations_pages
from web.pages.rendering import init_pages
from web.pages.studio import blp as studio_pages
from web.rate_limits import init_rate_limits
from web.request_ids import init_request_ids
from web.runtime import EXTENSION, Runtime, close_db_session
from web.security import init_security

API_PREFIX = "/api/v1"
# Pages, assets and JSON. Not media: segments and images are compressed already, and
# media answers Range requests, whose 206 parts must not be re-encoded.
COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
]


class CbrtlApi(Api):
    ERROR_SCHEMA = ErrorEnvelope


def build_runtime(
    settings: Settings,
    *,
    session_factory: sessionmaker[Session] | None = None,
    publisher: CeleryPublisher | None = None,
) -> Runtime:
    """The process's resources; tests pass a session factory bound to their transaction."""
    publisher = publisher or CeleryPublisher(settings)
    if session_factory is None:
        engine = make_engine(settings.resolved_database_url)
        # Requests hand their committed jobs to a thread of the process (db/outbox.py).
        background = BackgroundPublisher(partial(CeleryPublisher, settings), engine=engine)
        session_factory = make_session_factory(engine, publisher=background)
    cache = make_cache(settings)
    storage = make_storage(settings)
    titles = TitleStore(cache, MediaUrls(settings, storage))
    install_title_sync(session_factory, titles)
    recent_ratings = RecentRatings(cache, titles.platform)
    return Runtime(
        settings=settings,
        session_factory=session_factory,
        publisher=publisher,
        storage=storage,
        cache=cache,
        blocklist=Blocklist(session_factory=session_factory, cache=cache, ttl=REFRESH_TTL),
        titles=titles,
        recent_ratings=recent_ratings,
        list_reads=ListReads(cache, recent_ratings, titles),
    )


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    settings = settings or (runtime.settings if runtime else load_settings_or_exit())
    configure_logging(settings)
    app = Flask(__name__)
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    # First hooks: every later hook's logs carry the request id, and its time is counted.
    init_request_ids(app)
    init_metrics(app)
    # Before the rate limits and every view: a JSON body is refused here or safe after.
    init_json_bodies(app)
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key,
        API_TITLE="cbrtl",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=1024 * 1024,  # JSON bodies; uploads get their own route and limit
        COMPRESS_MIMETYPES=COMPRESSED_TYPES,
        COMPRESS_MIN_SIZE=512,
        COMPRESS_ALGORITHM=["br", "gzip"],
    )
    # Early: its after-request hook runs after every later one (they run in reverse).
    Compress(app)
    app.extensions[EXTENSION] = runtime or build_runtime(settings)
    app.teardown_appcontext(close_db_session)

    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["upload_id"] = UploadIdConverter
    api = CbrtlApi(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.register_converter(IdConverter, id_schema)
    api.register_converter(UploadIdConverter, upload_id_schema)
    api.register_blueprint(health_blp, url_prefix="/")
    api.register_blueprint(metrics_blp, url_prefix="/")
    for blueprint in (
        auth_blp,
        account_blp,
        catalogue_blp,
        discovery_blp,
        jobs_blp,
        schedules_blp,
        recommendations_blp,
        models_blp,
        operations_blp,
        video_blp,
    ):
        api.register_blueprint(blueprint, url_prefix=API_PREFIX)
    app.register_blueprint(media_files_blp)  # players' files, outside the API document
    for pages in (catalogue_pages, account_pages, studio_pages, operations_pages):
        app.register_blueprint(pages)  # HTML pages, outside the API document
    init_pages(app)
    init_jwt(app, settings)
    init_rate_limits(app, settings)
    init_security(app, settings)
    # After Api(): ours replace flask-smorest's handlers, so every error has one shape.
    register_error_handlers(app)
    # Last, so its hook runs first: a 401 it gives gets every other hook's headers.
    init_revocation(app)
    return app
