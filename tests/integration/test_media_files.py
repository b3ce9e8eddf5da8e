"""/media/...: local files with Range support; S3 playlists rewritten to signed URLs;
only the title's published set is served, and odd keys are a 404, never a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from db.settings import Settings
from db.storage import make_storage
from tests.factories import make_content, make_published_video
from web.runtime import EXTENSION

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


def published(db_session: Session, job_id: int = 1) -> str:
    """A title whose video is the set under videos/<id>/j<job_id>; that prefix."""
    video = make_published_video(db_session, make_content(db_session), job_id=job_id)
    db_session.commit()
    assert video.output_prefix is not None
    return video.output_prefix


def test_s3_playlists_point_at_the_web_and_at_signed_segments(
    client: FlaskClient, settings: Settings, db_session: Session
) -> None:
    base = published(db_session)
    put(settings, f"{base}/master.m3u8", MASTER.encode())
    put(settings, f"{base}/360p/index.m3u8", MEDIA.encode())
    put(settings, f"{base}/360p/seg_00000.ts", b"\x47" * 188)

    master = client.get(f"/media/{base}/master.m3u8")
    assert master.status_code == 200
    assert master.mimetype == "application/vnd.apple.mpegurl"
    variant = next(line for line in master.text.splitlines() if not line.startswith("#"))
    assert variant == f"{settings.resolved_public_url}/media/{base}/360p/index.m3u8"
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


def test_local_files_are_served_with_ranges(
    make_app: Any, tmp_path: Path, db_session: Session
) -> None:
    app = make_app(storage_url=f"file://{tmp_path}")
    base = published(db_session, job_id=2)
    segment = tmp_path / base / "360p/seg_00000.ts"
    segment.parent.mkdir(parents=True)
    segment.write_bytes(bytes(range(256)))
    client = app.test_client()

    # Responses stream the file: close them, as a server does.
    with client.get(f"/media/{base}/360p/seg_00000.ts") as whole:
        assert whole.status_code == 200 and whole.data == bytes(range(256))
        assert whole.mimetype == "video/mp2t"
        assert "immutable" in whole.headers["Cache-Control"]
    ranged = {"Range": "bytes=10-19"}
    with client.get(f"/media/{base}/360p/seg_00000.ts", headers=ranged) as part:
        assert part.status_code == 206
        assert part.data == bytes(range(10, 20))
        assert part.headers["Content-Range"] == "bytes 10-19/256"
    assert client.get(f"/media/{base}/nothing.ts").status_code == 404


@pytest.fixture(params=["s3", "local"])
def media(request: pytest.FixtureRequest, make_app: Any, tmp_path: Path) -> Any:
    """An app on S3 (moto) or on a local folder."""
    return make_app() if request.param == "s3" else make_app(storage_url=f"file://{tmp_path}")


def store(app: Any, key: str, data: bytes = MEDIA.encode()) -> None:
    app.extensions[EXTENSION].storage.put_bytes(key, data, content_type="video/mp2t")


def served(app: Any, path: str) -> int:
    with app.test_client().get(path) as answer:  # close streamed files
        return int(answer.status_code)


def test_only_the_published_set_of_an_existing_title_is_served(
    media: Any, db_session: Session
) -> None:
    base = published(db_session, job_id=3)
    content_id = int(base.split("/")[1])
    # A finished transcode that is not (or no longer) the title's set, at the URL its
    # job id predicts, and a title that has no video row at all.
    others = [
        f"videos/{content_id}/j4/master.m3u8",
        f"videos/{content_id}/j30/master.m3u8",
        f"videos/{content_id + 1000}/j1/master.m3u8",
        f"sources/{content_id}/upload",
    ]
    for key in [f"{base}/master.m3u8", *others]:
        store(media, key)
    assert served(media, f"/media/{base}/master.m3u8") == 200
    assert [served(media, f"/media/{key}") for key in others] == [404] * len(others)


def test_a_set_is_served_only_under_its_own_random_set_id(media: Any, db_session: Session) -> None:
    """Sets live under videos/<id>/j<job>-<set id>: the same job without its set id, or
    with another, is no file (and cannot be worked out from the ids at the edge)."""
    set_id = "0123456789abcdef"
    video = make_published_video(db_session, make_content(db_session), job_id=5, set_id=set_id)
    db_session.commit()
    base = video.output_prefix
    assert base == f"videos/{video.content_id}/j5-{set_id}"
    guesses = [f"videos/{video.content_id}/j5", f"videos/{video.content_id}/j5-fedcba9876543210"]
    for prefix in (base, *guesses):
        store(media, f"{prefix}/master.m3u8")
    assert served(media, f"/media/{base}/master.m3u8") == 200
    assert [served(media, f"/media/{g}/master.m3u8") for g in guesses] == [404, 404]


def test_s3_playlists_never_point_outside_their_set(
    client: FlaskClient, settings: Settings, db_session: Session
) -> None:
    base = published(db_session)
    outside = ["../j99/360p/index.m3u8", "../j99/360p/seg_00000.ts", "../../../sources/1/x"]
    put(settings, f"{base}/master.m3u8", "\n".join(["#EXTM3U", *outside]).encode())
    answer = client.get(f"/media/{base}/master.m3u8")
    assert answer.status_code == 200
    # Left as written: nothing signed, and the player's request for them is a 404 here.
    assert answer.text.splitlines()[1:] == outside


@pytest.mark.parametrize(
    "path",
    [
        "/media/videos/%00",
        "/media/videos/1/j1/%00.ts",
        "/media/videos/1/j1/master.m3u8%00",
        "/media/videos/1/j1/../../2/j1/master.m3u8",
        "/media/videos/1/j1/..%2F..%2F..%2Fsources%2F1%2Fx",
        "/media/videos%2F1%2Fj1%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/videos/1/j1/%2e%2e/%2e%2e/x",
        "/media/videos/1/j1/a\\b.ts",
        "/media/videos/1/j1/%0Aseg.ts",
        "/media/videos/99999999999999999999999/j1/master.m3u8",
        "/media/videos/1/j99999999999999999999999/master.m3u8",
        "/media/videos/-1/j1/master.m3u8",
        "/media/videos/1/j1/" + "a" * 5000 + ".ts",
        "/media/videos/1/j1/" + "a/" * 600 + "x.ts",
        "/media/videos/1/j1/%C3%A9.ts",
        "/media/videos/1/j1/%FF.ts",
        "/media/videos/1/j1/",
        "/media/videos/1",
        "/media/videos",
    ],
)
def test_odd_keys_are_no_such_file(media: Any, db_session: Session, path: str) -> None:
    published(db_session)
    with media.test_client().get(path) as answer:
        assert answer.status_code == 404, answer.data[:300]
        assert answer.json["error"]["code"] == "not_found"
