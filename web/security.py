"""Security headers on every response; CORS only for configured origins."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from db.settings import Settings


def content_security_policy(settings: Settings) -> str:
    """The pages load their own scripts and styles; hls.js plays blob: media and parses
    in a blob: worker; media comes from https: (S3, a CDN) or from the configured
    storage endpoint and media base URL, which may be plain http (MinIO on a LAN).
    Nothing may frame us."""
    media = " ".join(["'self'", "blob:", "https:", *_origins(settings)])
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


def _origins(settings: Settings) -> list[str]:
    origins = []
    for url in (settings.s3_endpoint_url, settings.media_base_url):
        parts = urlsplit(url or "")
        if parts.scheme == "http" and parts.netloc:
            origins.append(f"http://{parts.netloc}")
    return origins


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
    if settings.proxy_count:
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
