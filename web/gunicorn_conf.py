"""gunicorn settings for the web process (Procfile: web)."""

import os

bind = f"{os.environ.get('CBRTL_BIND', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("CBRTL_WEB_WORKERS", "2"))
threads = int(os.environ.get("CBRTL_WEB_THREADS", "4"))
worker_class = "gthread"
timeout = 60
graceful_timeout = 20
accesslog = "-"
