"""Security headers on every response; CORS only for configured origins."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import Flask, Response
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from db.settings import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

DEFAULT_PORTS = {"http": 80, "https": 443}


def content_security_policy(settings: Settings) -> str:
    """The pages load their own scripts and styles; hls.js plays blob: media and parses
    in a blob: worker; media comes from this web or from the one configured media
    origin (a CDN, else the bucket that signs the URLs), never from any https: site.
    Nothing may frame us."""
    origin = media_origin(settings)
    media = " ".join(["'self'", "blob:", *([origin] if origin else [])])
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src data: {media}",
            f"media-src {media}",
            "worker-src 'self' blob:",
            f"connect-src {media}",
            "font-src 'self'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        )
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def media_origin(settings: Settings) -> str | None:
    """Where players fetch media other than from this web (web/media/urls.py): the
    CDN when set; else, on S3, the host of its signed URLs; local files: none."""
    if settings.media_base_url:
        return _origin(settings.media_base_url)
    storage = urlsplit(settings.resolved_storage_url)
    if storage.scheme != "s3":
        return None
    if settings.s3_endpoint_url:  # MinIO and the like: boto3 signs path-style URLs
        return _origin(settings.s3_endpoint_url)
    # AWS: the bucket's virtual host; a dotted name breaks TLS there, so path-style.
    bucket = storage.netloc
    return "https://s3.amazonaws.com" if "." in bucket else f"https://{bucket}.s3.amazonaws.com"


class PublicOrigin:
    """The app sees CBRTL_PUBLIC_URL as the host and scheme of every request, so every
    absolute URL (url_for(_external=True), werkzeug's redirects) is built from the
    configured origin and never from a Host header the client chose."""

    def __init__(self, app: WSGIApplication, public_url: str) -> None:
        self.app = app
        parts = urlsplit(public_url)
        self.scheme = parts.scheme
        self.host = parts.netloc
        self.server = (parts.hostname or "", str(parts.port or DEFAULT_PORTS[parts.scheme]))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.url_scheme"] = self.scheme
        environ["HTTP_HOST"] = self.host
        environ["SERVER_NAME"], environ["SERVER_PORT"] = self.server
        return self.app(environ, start_response)


def init_security(app: Flask, settings: Settings) -> None:
    production = settings.env == "production"
    policy = content_security_policy(settings)

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    if settings.cors_origins:
        origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
        CORS(app, resources={r"/api/*": {"origins": origins}}, supports_credentials=False)
    app.wsgi_app = PublicOrigin(app.wsgi_app, settings.resolved_public_url)  # type: ignore[method-assign]
    if settings.proxy_count:
        # Outside PublicOrigin: the client's address comes from the proxies; the host
        # never does (X-Forwarded-Host is the client's to send, so it is not read).
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=0)  # type: ignore[method-assign]
