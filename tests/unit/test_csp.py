"""The Content-Security-Policy admits this web and the one configured media origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from db.settings import Settings
from web.security import content_security_policy

MEDIA_DIRECTIVES = ("img-src", "media-src", "connect-src")


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def policy_for(tmp_path: Path, **values: Any) -> dict[str, list[str]]:
    return directives(content_security_policy(Settings(data_dir=tmp_path, **values)))


@pytest.mark.parametrize(
    ("values", "origin"),
    [
        # A CDN (or the nginx edge) in front of the media: its origin only.
        (
            {"storage_url": "s3://cbrtl/media", "media_base_url": "https://cdn.example/hls"},
            "https://cdn.example",
        ),
        # An S3-compatible store: signed URLs name its endpoint (path-style).
        (
            {"storage_url": "s3://cbrtl/media", "s3_endpoint_url": "https://minio.lan:9000"},
            "https://minio.lan:9000",
        ),
        (
            {"storage_url": "s3://cbrtl", "s3_endpoint_url": "http://10.0.0.5:9000/"},
            "http://10.0.0.5:9000",
        ),
        # AWS: the bucket's virtual host.
        ({"storage_url": "s3://cbrtl/media"}, "https://cbrtl.s3.amazonaws.com"),
    ],
)
def test_media_comes_from_the_configured_origin_only(
    tmp_path: Path, values: dict[str, str], origin: str
) -> None:
    policy = policy_for(tmp_path, **values)
    for name in MEDIA_DIRECTIVES:
        remote = [s for s in policy[name] if s not in {"'self'", "blob:", "data:"}]
        assert remote == [origin], (name, policy[name])
        assert "https:" not in policy[name] and "http:" not in policy[name]


def test_local_files_come_from_this_web(tmp_path: Path) -> None:
    policy = policy_for(tmp_path)
    assert policy["img-src"] == ["data:", "'self'", "blob:"]
    assert policy["media-src"] == ["'self'", "blob:"]
    assert policy["connect-src"] == ["'self'", "blob:"]
    assert policy["script-src"] == ["'self'"]
