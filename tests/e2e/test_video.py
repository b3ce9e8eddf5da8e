"""The video pipeline end to end: gunicorn, a media worker, RabbitMQ, PostgreSQL, S3 (moto).

Upload in chunks -> complete -> transcode on the media queue -> a playable HLS set in S3,
served through the web; a damaged file fails with its reason; a worker killed mid-
transcode leaves exactly one complete published set after redelivery.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from db.engine import make_engine
from tests.e2e.processes import Api, Platform
from tests.factories import PASSWORD, make_content, make_user
from tests.services import wait_for
from workers.media.samples import make_sample_clip


def make_clip(path: Path, *, size: str, seconds: int, audio: bool = True) -> Path:
    """A test clip: quick to encode, its index at the end (ffmpeg's default)."""
    return make_sample_clip(
        path, seconds=seconds, size=size, audio=audio, preset="ultrafast", faststart=False
    )


@pytest.fixture
def engine(on_services: Platform) -> Iterator[Engine]:
    engine = make_engine(on_services.env["CBRTL_DATABASE_URL"])
    yield engine
    engine.dispose()


@pytest.fixture
def creator(engine: Engine) -> tuple[str, int]:
    with Session(engine) as session:
        user = make_user(session, roles=("creator", "admin"))
        item = make_content(session, owner=user)
        session.commit()
        return user.email, item.id


def upload(api: Api, token: str, content_id: int, clip: Path) -> dict[str, Any]:
    data = clip.read_bytes()
    created = api.call(
        "POST",
        f"/content/{content_id}/uploads",
        token,
        json={"filename": clip.name, "size_bytes": len(data), "content_type": "video/mp4"},
    )
    assert created.status_code == 201, created.text
    upload_id, chunk = created.json()["upload_id"], created.json()["chunk_size"]
    for first in range(0, len(data), chunk):
        piece = data[first : first + chunk]
        sent = api.call(
            "PUT",
            f"/uploads/{upload_id}",
            token,
            data=piece,
            headers={"Content-Range": f"bytes {first}-{first + len(piece) - 1}/{len(data)}"},
        )
        assert sent.status_code == 200, sent.text
    done = api.call("POST", f"/uploads/{upload_id}/complete", token)
    assert done.status_code == 202, done.text
    job: dict[str, Any] = done.json()["job"]
    return job


def wait_for_video(
    api: Api, content_id: int, states: set[str], timeout: float
) -> list[dict[str, Any]]:
    """Poll the video document until its status is in `states`; every answer seen."""
    seen: list[dict[str, Any]] = []

    def reached() -> bool:
        seen.append(api.call("GET", f"/content/{content_id}/video").json())
        return seen[-1]["status"] in states

    wait_for(reached, timeout=timeout, interval=0.5, what=f"video {content_id} in {states}")
    return seen


def published_prefixes(platform: Platform, content_id: int) -> set[str]:
    """The jobs whose sets are under videos/{content_id}/ in the platform's bucket (each
    folder is j<job>-<random set id>: a set's URL cannot be worked out from the ids)."""
    bucket, root = platform.env["CBRTL_STORAGE_URL"].removeprefix("s3://").split("/", 1)
    s3 = boto3.client("s3", endpoint_url=platform.env["CBRTL_S3_ENDPOINT_URL"])
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{root}/videos/{content_id}/"
    )
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    folders = {k.split("/")[3] for k in keys}
    assert all(re.fullmatch(r"j[0-9]+-[0-9a-f]{16}", f) for f in folders), folders
    return {f.split("-")[0] for f in folders}


def ffprobe_streams(url: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    streams: list[dict[str, Any]] = json.loads(done.stdout)["streams"]
    return streams


def test_upload_transcode_play_and_replace(
    on_services: Platform, creator: tuple[str, int], tmp_path: Path
) -> None:
    email, content_id = creator
    clip = make_clip(tmp_path / "clip.mp4", size="854x480", seconds=9)
    on_services.start_web()
    on_services.start_worker("media")
    api = Api(on_services.base_url)
    token = api.token(email, PASSWORD)

    job = upload(api, token, content_id, clip)
    seen = wait_for_video(api, content_id, {"ready", "failed"}, timeout=240)
    video = seen[-1]
    assert video["status"] == "ready", video
    progress = [v["progress"] for v in seen if v["status"] == "processing"]
    assert progress == sorted(progress)  # it only rises
    assert [r["name"] for r in video["renditions"]] == ["240p", "360p", "480p"]
    assert all(r["bitrate"] > 0 for r in video["renditions"])
    finished = api.call("GET", f"/jobs/{job['id']}", token).json()
    assert (finished["status"], finished["progress"]) == ("succeeded", 1.0)

    # The master plays: ffprobe follows it through the web to signed S3 segments.
    streams = ffprobe_streams(video["master_url"])
    heights = sorted({s["height"] for s in streams if s["codec_type"] == "video"})
    assert heights == [240, 360, 480]
    assert any(s["codec_type"] == "audio" for s in streams)
    poster = requests.get(video["poster_url"], timeout=10)
    assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"
    # Cards in lists show the same poster (a signed URL to the same object).
    card = api.call("GET", f"/content/{content_id}").json()["video"]
    assert card["poster_url"].split("?")[0] == video["poster_url"].split("?")[0]
    assert card["thumbnail_url"].split("?")[0] in {u.split("?")[0] for u in video["thumbnail_urls"]}
    assert api.call("GET", f"/content/{content_id}").json()["duration_s"] == pytest.approx(
        9, abs=0.5
    )
    first = published_prefixes(on_services, content_id)
    assert first == {f"j{job['id']}"}

    # Re-transcoding replaces the set: the old one plays until the switch, then is gone.
    again = api.call("POST", "/admin/transcodes", token, json={"content_id": content_id})
    assert again.status_code == 202, again.text
    wait_for(
        lambda: (
            api.call("GET", f"/jobs/{again.json()['job']['id']}", token).json()["status"]
            == "succeeded"
        ),
        timeout=240,
        what="the re-transcode",
    )
    # The replaced set is deleted after the switch commits (with the job's success).
    wait_for(
        lambda: published_prefixes(on_services, content_id) == {f"j{again.json()['job']['id']}"},
        timeout=30,
        what="the replaced set deleted",
    )
    replaced = api.call("GET", f"/content/{content_id}/video").json()
    assert replaced["master_url"] != video["master_url"]
    assert requests.get(replaced["master_url"], timeout=10).status_code == 200
    assert requests.get(video["master_url"], timeout=10).status_code == 404


def test_a_damaged_video_fails_with_its_reason(
    on_services: Platform, creator: tuple[str, int], tmp_path: Path
) -> None:
    email, content_id = creator
    whole = make_clip(tmp_path / "whole.mp4", size="320x240", seconds=4).read_bytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(whole[: len(whole) // 3])  # the index (moov) is at the end: lost
    on_services.start_web()
    on_services.start_worker("media")
    api = Api(on_services.base_url)
    token = api.token(email, PASSWORD)

    job = upload(api, token, content_id, damaged)
    video = wait_for_video(api, content_id, {"ready", "failed"}, timeout=120)[-1]
    assert video["status"] == "failed"
    assert "incomplete or damaged" in video["error"]
    assert video["master_url"] is None
    failed = api.call("GET", f"/jobs/{job['id']}", token).json()
    assert failed["status"] == "failed" and failed["attempts"] == 1  # no pointless retries
    assert "incomplete or damaged" in failed["error"]
    assert api.call("GET", f"/content/{content_id}").json()["video"] == {
        "status": "failed",
        "poster_url": None,
        "thumbnail_url": None,
    }


def test_worker_killed_mid_transcode_publishes_one_complete_set(
    on_services: Platform, creator: tuple[str, int], tmp_path: Path
) -> None:
    email, content_id = creator
    clip = make_clip(tmp_path / "long.mp4", size="1280x720", seconds=12)
    on_services.start_web()
    worker = on_services.start_worker("media")
    api = Api(on_services.base_url)
    token = api.token(email, PASSWORD)

    job = upload(api, token, content_id, clip)
    wait_for(
        lambda: api.call("GET", f"/jobs/{job['id']}", token).json()["progress"] >= 0.15,
        timeout=180,
        interval=0.3,
        what="the transcode under way",
    )
    worker.kill(signal.SIGKILL)  # the whole group: the pool child and its ffmpeg
    on_services.start_worker("media")

    video = wait_for_video(api, content_id, {"ready", "failed"}, timeout=300)[-1]
    assert video["status"] == "ready", video
    finished = api.call("GET", f"/jobs/{job['id']}", token).json()
    assert (finished["status"], finished["attempts"]) == ("succeeded", 2)
    # The killed attempt's working folder went with the rerun; the rerun cleaned its own.
    assert list(Path(tempfile.gettempdir()).glob(f"cbrtl-transcode-*-{job['id']}-*")) == []
    assert published_prefixes(on_services, content_id) == {f"j{job['id']}"}
    # Complete: every segment every media playlist names is there and plays.
    streams = ffprobe_streams(video["master_url"])
    assert sorted({s["height"] for s in streams if s["codec_type"] == "video"}) == [
        240,
        360,
        480,
        720,
    ]
    master = requests.get(video["master_url"], timeout=10).text
    for line in master.splitlines():
        if line and not line.startswith("#"):
            playlist = requests.get(line, timeout=10).text
            segments = [s for s in playlist.splitlines() if s and not s.startswith("#")]
            assert len(segments) == 3  # 12 s in 4 s segments
            for segment in segments:
                with requests.get(segment, timeout=10, stream=True) as got:
                    assert got.status_code == 200


def test_embedded_defaults_transcode_and_serve_locally(embedded: Platform, tmp_path: Path) -> None:
    """SQLite, the filesystem broker and local storage: the same pipeline, the web serving
    the files itself."""
    embedded.cbrtl(
        "users", "create", "--email", "maker@example.org", "--password", PASSWORD,
        "--role", "creator",
    )  # fmt: skip
    embedded.start_web()
    embedded.start_worker("media")
    api = Api(embedded.base_url)
    token = api.token("maker@example.org", PASSWORD)
    content_id = api.call("POST", "/content", token, json={"title": "Local"}).json()["id"]
    clip = make_clip(tmp_path / "local.mp4", size="640x360", seconds=5, audio=False)

    upload(api, token, content_id, clip)
    video = wait_for_video(api, content_id, {"ready", "failed"}, timeout=240)[-1]
    assert video["status"] == "ready", video
    assert video["master_url"].startswith(f"{embedded.base_url}/media/videos/{content_id}/")
    streams = ffprobe_streams(video["master_url"])
    assert {s["codec_type"] for s in streams} == {"video"}  # the source had no sound
    poster = requests.get(video["poster_url"], headers={"Range": "bytes=0-1"}, timeout=10)
    assert (poster.status_code, poster.content) == (206, b"\xff\xd8")
