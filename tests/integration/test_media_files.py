"""/media/...: local files with Range support; S3 playlists rewritten to signed URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from db.settings import Settings
from db.storage import make_storage

MASTER = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
360p/index.m3u8
"""
MEDIA = """#EXTM3U
#EXT-X-TARGETDURATION:4
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:4.000000,
seg_00000.ts
#EXT-X-ENDLIST
"""


def put(settings: Settings, key: str, data: bytes) -> None:
    make_storage(settings).put_bytes(key, data, content_type="application/octet-stream")


def test_s3_playlists_point_at_the_web_and_at_signed_segments(
    client: FlaskClient, settings: Settings
) -> None:
    base = "videos/77/j1"
    put(settings, f"{base}/master.m3u8", MASTER.encode())
    put(settings, f"{base}/360p/index.m3u8", MEDIA.encode())
    put(settings, f"{base}/360p/seg_00000.ts", b"\x47" * 188)

    master = client.get(f"/media/{base}/master.m3u8")
    assert master.status_code == 200
    assert master.mimetype == "application/vnd.apple.mpegurl"
    variant = next(line for line in master.text.splitlines() if not line.startswith("#"))
    assert variant == f"http://localhost/media/{base}/360p/index.m3u8"
    assert 'CODECS="avc1.4d401e,mp4a.40.2"' in master.text  # tags pass through

    media = client.get(urlsplit(variant).path)
    segment = next(line for line in media.text.splitlines() if line and not line.startswith("#"))
    assert segment.startswith(f"{settings.s3_endpoint_url}/")
    assert "Signature" in segment
    assert requests.get(segment, timeout=10).content == b"\x47" * 188

    redirect = client.get(f"/media/{base}/360p/seg_00000.ts")
    assert redirect.status_code == 302 and "Signature" in redirect.headers["Location"]


@pytest.mark.parametrize(
    "path",
    [
        "/media/sources/77/secret",  # sources are never served
        "/media/videos/../sources/77/secret",
        "/media/videos/77/j1/./master.m3u8",
        "/media/videos/404/j9/master.m3u8",
    ],
)
def test_only_published_files_are_served(client: FlaskClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json["error"]["code"] == "not_found"


def test_local_files_are_served_with_ranges(make_app: Any, tmp_path: Path) -> None:
    app = make_app(storage_url=f"file://{tmp_path}")
    segment = tmp_path / "videos/5/j2/360p/seg_00000.ts"
    segment.parent.mkdir(parents=True)
    segment.write_bytes(bytes(range(256)))
    client = app.test_client()

    # Responses stream the file: close them, as a server does.
    with client.get("/media/videos/5/j2/360p/seg_00000.ts") as whole:
        assert whole.status_code == 200 and whole.data == bytes(range(256))
        assert whole.mimetype == "video/mp2t"
        assert "immutable" in whole.headers["Cache-Control"]
    ranged = {"Range": "bytes=10-19"}
    with client.get("/media/videos/5/j2/360p/seg_00000.ts", headers=ranged) as part:
        assert part.status_code == 206
        assert part.data == bytes(range(10, 20))
        assert part.headers["Content-Range"] == "bytes 10-19/256"
    assert client.get("/media/videos/5/j2/nothing.ts").status_code == 404
