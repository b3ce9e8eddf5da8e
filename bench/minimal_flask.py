"""The ceiling for bench/load_mix.py: the smallest Flask JSON endpoint.

Served by the same gunicorn settings module as the platform
(`gunicorn --config python:web.gunicorn_conf --pythonpath bench minimal_flask:application`),
so the gap between it and a cbrtl call is what cbrtl's own work costs.
"""

from __future__ import annotations

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

application = Flask(__name__)


@application.get("/ping")
def ping() -> ResponseReturnValue:
    return jsonify(ok=True)


@application.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")
