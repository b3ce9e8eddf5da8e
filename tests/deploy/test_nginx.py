"""docker/nginx.conf under Debian's nginx: it parses, its HLS edge caches, and only the
public host reaches the web, with forwarded headers nginx set itself."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from db.media_types import IMMUTABLE
from tests.conftest import BUCKET
from tests.deploy import nginx
from tests.services import MotoServer, free_port


def public_videos(bucket: str, prefix: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/{prefix}/videos/*",
            }
        ],
    }


def _loopback(tmp_path: Path, moto: MotoServer, path: str) -> nginx.Loopback:
    return nginx.loopback(
        tmp_path,
        web_ports=(free_port(), free_port()),
        origin=moto.endpoint_url.removeprefix("http://"),
        bucket_prefix=f"/{path}/",
    )


def test_config_passes_nginx_t(tmp_path: Path, moto: MotoServer) -> None:
    conf = nginx.write_conf(_loopback(tmp_path, moto, f"{BUCKET}/media"))
    checked = nginx.check(conf)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr


def test_nginx_t_rejects_a_broken_config(tmp_path: Path, moto: MotoServer) -> None:
    conf = nginx.write_conf(_loopback(tmp_path, moto, f"{BUCKET}/media"))
    conf.write_text(conf.read_text().replace("proxy_cache hls;", "proxy_cache nowhere;"))
    checked = nginx.check(conf)
    assert checked.returncode != 0
    assert "nowhere" in checked.stderr


def test_hls_edge_serves_segments_from_its_cache(tmp_path: Path, moto: MotoServer) -> None:
    bucket, prefix = f"cbrtl-edge-{uuid.uuid4().hex[:8]}", "media"
    s3 = boto3.client("s3", endpoint_url=moto.endpoint_url)
    s3.create_bucket(Bucket=bucket)
    # What compose's createbucket does to MinIO: published videos are public-read.
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_videos(bucket, prefix)))
    segment = b"\x47" * 188 * 50  # MPEG-TS packets
    key = "videos/7/j3/720p/seg_00001.ts"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=segment, ContentType="video/mp2t")
    where = _loopback(tmp_path, moto, f"{bucket}/{prefix}")
    with nginx.running(where):
        url = f"{where.base_url}/hls/{key}"
        first = requests.get(url, timeout=10)
        second = requests.get(url, timeout=10)
        assert (first.status_code, second.status_code) == (200, 200)
        assert first.headers["X-Cache-Status"] == "MISS"
        assert second.headers["X-Cache-Status"] == "HIT"
        assert first.content == second.content == segment
        assert first.headers["Content-Type"] == "video/mp2t"

        # The origin losing the file does not reach viewers the edge already serves.
        s3.delete_object(Bucket=bucket, Key=f"{prefix}/{key}")
        after = requests.get(url, timeout=10)
        assert after.status_code == 200 and after.content == segment
        assert after.headers["X-Cache-Status"] == "HIT"

        # A range of a cached segment comes from the cache too.
        ranged = requests.get(url, headers={"Range": "bytes=0-187"}, timeout=10)
        assert ranged.status_code == 206 and ranged.content == segment[:188]

        missing = requests.get(f"{where.base_url}/hls/videos/7/j3/none.ts", timeout=10)
        assert missing.status_code in (403, 404)
        assert requests.post(url, data=b"x", timeout=10).status_code == 403


def test_hls_edge_never_keeps_a_deleted_titles_playlists(tmp_path: Path, moto: MotoServer) -> None:
    # docs/DEPLOY.md "Deleting a title at the edge": playlists are never stored at the
    # edge, so once the purge has removed them from the bucket the edge's next answer
    # is the origin's refusal; segments (immutable, job-scoped) may stay cached.
    bucket, prefix = f"cbrtl-edge-{uuid.uuid4().hex[:8]}", "media"
    s3 = boto3.client("s3", endpoint_url=moto.endpoint_url)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public_videos(bucket, prefix)))
    # The headers a transcode stores (db/media_types.py): variant playlists immutable.
    files = {
        "videos/8/j4/master.m3u8": ("public, max-age=60", b"#EXTM3U\n720p/index.m3u8\n"),
        "videos/8/j4/720p/index.m3u8": (IMMUTABLE, b"#EXTM3U\nseg_00000.ts\n"),
        "videos/8/j4/720p/seg_00000.ts": (IMMUTABLE, b"\x47" * 188),
    }
    for key, (cache_control, body) in files.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body, CacheControl=cache_control)
    where = _loopback(tmp_path, moto, f"{bucket}/{prefix}")
    with nginx.running(where):
        urls = {key: f"{where.base_url}/hls/{key}" for key in files}
        for _ in range(2):
            answers = {key: requests.get(url, timeout=10) for key, url in urls.items()}
            assert all(a.status_code == 200 for a in answers.values())
        master, variant, segment = answers.values()
        assert master.headers["X-Cache-Status"] == variant.headers["X-Cache-Status"] == "BYPASS"
        # Nor may a browser or a cache downstream keep them: they revalidate.
        assert master.headers["Cache-Control"] == variant.headers["Cache-Control"] == "no-cache"
        assert segment.headers["X-Cache-Status"] == "HIT"
        assert segment.headers["Cache-Control"] == IMMUTABLE

        s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": f"{prefix}/{key}"} for key in files]},
        )
        after = {key: requests.get(url, timeout=10) for key, url in urls.items()}
        master, variant, segment = after.values()
        assert master.status_code in (403, 404) and variant.status_code in (403, 404)
        assert segment.status_code == 200 and segment.headers["X-Cache-Status"] == "HIT"


def test_metrics_are_not_public_and_status_is_internal(tmp_path: Path, moto: MotoServer) -> None:
    where = _loopback(tmp_path, moto, f"{BUCKET}/media")
    with nginx.running(where):
        assert requests.get(f"{where.base_url}/metrics", timeout=10).status_code == 404
        status = requests.get(f"http://127.0.0.1:{where.status_port}/stub_status", timeout=10)
        assert status.status_code == 200 and "Active connections" in status.text


class _Echo(BaseHTTPRequestHandler):
    """A web replica that answers with the headers it was sent."""

    def do_GET(self) -> None:
        body = json.dumps(dict(self.headers.items())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def echo_web() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_unknown_hosts_are_refused_and_forwarded_headers_are_nginx_own(
    tmp_path: Path, moto: MotoServer
) -> None:
    with echo_web() as web_port:
        where = nginx.loopback(
            tmp_path,
            web_ports=(web_port,),
            origin=moto.endpoint_url.removeprefix("http://"),
            bucket_prefix=f"/{BUCKET}/media/",
        )
        with nginx.running(where):
            # The public host, with every forwarded header a client could forge.
            forged = {
                "X-Forwarded-Host": "evil.example",
                "X-Forwarded-For": "203.0.113.9",
                "X-Forwarded-Proto": "https",
            }
            seen = requests.get(f"{where.base_url}/api/v1/genres", headers=forged, timeout=10)
            assert seen.status_code == 200, seen.text
            headers = {k.lower(): v for k, v in seen.json().items()}
            assert headers["x-forwarded-host"] == nginx.PUBLIC_HOST
            assert headers["x-forwarded-for"] == "127.0.0.1"
            assert headers["x-forwarded-proto"] == "http"
            assert headers["host"] == nginx.PUBLIC_HOST

            # Any other Host: the connection closes with no answer, nothing is proxied.
            for host in ("evil.example", f"evil.example:{where.port}", "localhost"):
                with pytest.raises(requests.ConnectionError):
                    requests.get(
                        f"{where.base_url}/api/v1/genres", headers={"Host": host}, timeout=10
                    )
