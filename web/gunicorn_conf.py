"""gunicorn settings for the web process (Procfile: web).

The settings are read here, in the master, so a bad value stops gunicorn at
start with one line instead of a crash loop of workers.
"""

import os
from typing import Any

from db.settings import load_settings_or_exit
from web import metrics_folder
from web.gunicorn_logging import GunicornLogger

_settings = load_settings_or_exit()
# Before any worker imports prometheus_client: the workers share their metrics here.
_metrics = metrics_folder.use(_settings.data_dir, os.getpid())

bind = f"{os.environ.get('CBRTL_BIND', '127.0.0.1')}:{_settings.port}"
workers = int(os.environ.get("CBRTL_WEB_WORKERS", "2"))
threads = int(os.environ.get("CBRTL_WEB_THREADS", "4"))
worker_class = "gthread"
timeout = 60
# Longer than nginx keeps idle upstream connections (keepalive_timeout 60s there), so
# nginx never reuses a connection gunicorn is closing (a POST it could not retry).
keepalive = 75
graceful_timeout = 20
accesslog = "-"
logger_class = GunicornLogger  # JSON lines (CBRTL_LOG_FORMAT), access log included
# Like nginx's 8k header buffers; longer request lines get gunicorn's own 400.
limit_request_line = 8190


def on_starting(_server: Any) -> None:
    metrics_folder.reset(_metrics)


def child_exit(_server: Any, worker: Any) -> None:
    metrics_folder.process_dead(_metrics, worker.pid)


def on_exit(_server: Any) -> None:
    metrics_folder.remove(_metrics)
