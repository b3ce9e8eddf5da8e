"""gunicorn settings for the web process (Procfile: web).

The settings are read here, in the master, so a bad value stops gunicorn at
start with one line instead of a crash loop of workers.
"""

import os

from db.settings import load_settings_or_exit

_settings = load_settings_or_exit()

bind = f"{os.environ.get('CBRTL_BIND', '127.0.0.1')}:{_settings.port}"
workers = int(os.environ.get("CBRTL_WEB_WORKERS", "2"))
threads = int(os.environ.get("CBRTL_WEB_THREADS", "4"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
accesslog = "-"
# Like nginx's 8k header buffers; longer request lines get gunicorn's own 400.
limit_request_line = 8190
