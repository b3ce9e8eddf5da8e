"""The API's blueprint: flask-smorest's, with its arguments parser reading the JSON body
that the request already parsed within bounds (web/input.py) instead of parsing it again."""

from __future__ import annotations

from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request


class BoundedBodyParser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        # Flask keeps what get_json() returned (parsed by the app's bounded provider, with
        # its errors already answered), so the body is read and parsed once per request.
        return req.get_json()


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = BoundedBodyParser()
