"""What every page template gets, static asset URLs that change with their content,
and error pages for browsers (web/errors decides when)."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, g, make_response, render_template, request, url_for

from web.pages.viewer import current_viewer, session_needs_refresh

STATIC = Path(__file__).resolve().parent.parent / "static"
NOT_PAGES = ("/api/", "/media/", "/static/", "/healthz", "/readyz", "/metrics")
YEAR_S = 365 * 24 * 3600


# The path comes from requests too (/static/<path>?v=...), where "./" spellings of one
# file are endless: a bound keeps them from growing the process. Files do not change
# while it runs, so entries need no age.
@lru_cache(maxsize=256)
def _fingerprint(path: str) -> str:
    return hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:12]


def _is_current(version: str | None) -> bool:
    """Only this build's hash may be cached for good (a rolling deploy can route an old
    page's asset URL to a new instance, or the reverse)."""
    filename = (request.view_args or {}).get("filename", "")
    try:
        return version is not None and version == _fingerprint(filename)
    except OSError:
        return False


def asset(path: str) -> str:
    """A static URL with a content hash, so browsers may cache it for a year."""
    return url_for("static", filename=path, v=_fingerprint(path))


def wants_page() -> bool:
    """A browser navigating to a page (not an API, media or probe call)."""
    if request.path.startswith(NOT_PAGES):
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "text/html"


def error_page(status: int, message: str) -> Response:
    titles = {401: "Sign in first", 403: "Not allowed", 404: "Not found", 429: "Slow down"}
    title = titles.get(status, "Something went wrong" if status >= 500 else "That did not work")
    if status >= 500:
        g.viewer = None  # the database may be what failed: do not ask it who is looking
    response = make_response(
        render_template("error.html", title=title, status=status, message=message), status
    )
    return response


def init_pages(app: Flask) -> None:
    @app.context_processor
    def _everywhere() -> dict[str, object]:
        return {
            "asset": asset,
            "viewer": current_viewer(),
            "needs_refresh": session_needs_refresh(),
        }

    @app.after_request
    def _cache_assets(response: Response) -> Response:
        if request.endpoint == "static" and response.status_code == 200:
            # Read the (small) file now, so the compressor sees a body it may gzip whole
            # and the file is closed with the response.
            opened = getattr(response.response, "close", None)
            response.direct_passthrough = False
            response.get_data()
            if opened is not None:
                opened()
        if request.endpoint == "static" and _is_current(request.args.get("v")):
            response.headers["Cache-Control"] = f"public, max-age={YEAR_S}, immutable"
        elif response.mimetype == "text/html":
            # Pages show who is signed in: never from a shared cache.
            response.headers.setdefault("Cache-Control", "private, no-cache")
        return response
