"""Absolute URLs come from CBRTL_PUBLIC_URL, never from the request's Host or a
client's X-Forwarded-Host; the shared home rows do not grow with Hosts either."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.factories import make_content, make_published_video
from web.discovery.shared_rows import EXTENSION as SHARED_ROWS

PUBLIC = "https://cbrtl.example"
HOSTILE = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


def ready_video(db_session: Session) -> int:
    content = make_content(db_session, genres=["Drama"])
    make_published_video(db_session, content)
    db_session.commit()
    return content.id


@pytest.mark.parametrize("proxy_count", [0, 1])
def test_media_urls_name_the_public_origin_whatever_the_host(
    make_app: Any, db_session: Session, tmp_path: Path, proxy_count: int
) -> None:
    app = make_app(
        public_url=PUBLIC,
        storage_url=f"file://{tmp_path}",
        media_base_url=None,
        proxy_count=proxy_count,
    )
    content_id = ready_video(db_session)
    client = app.test_client()
    video = client.get(f"/api/v1/content/{content_id}/video", headers=HOSTILE).json
    prefix = f"{PUBLIC}/media/videos/{content_id}/j1"
    assert video["master_url"] == f"{prefix}/master.m3u8"
    assert video["poster_url"] == f"{prefix}/poster.jpg"
    assert video["thumbnail_urls"] == [f"{prefix}/thumbs/t_0001.jpg"]
    home = client.get("/api/v1/homepage", headers=HOSTILE).get_data(as_text=True)
    assert "evil.example" not in home and f"{prefix}/poster.jpg" in home


def test_redirects_name_the_public_origin(make_app: Any) -> None:
    client = make_app(public_url=PUBLIC, proxy_count=1).test_client()
    # werkzeug merges repeated slashes with a redirect to an absolute URL.
    merged = client.get("/api//v1/genres", headers=HOSTILE)
    assert merged.status_code == 308
    assert merged.headers["Location"] == f"{PUBLIC}/api/v1/genres"


def test_distinct_hosts_share_one_copy_of_the_home_rows(
    make_app: Any, db_session: Session, tmp_path: Path
) -> None:
    app = make_app(public_url=PUBLIC, storage_url=f"file://{tmp_path}", home_rows_ttl_s=30)
    ready_video(db_session)
    client = app.test_client()
    for n in range(50):
        assert client.get("/api/v1/homepage", headers={"Host": f"h{n}.example"}).status_code == 200
    rows = app.extensions[SHARED_ROWS]
    # Trending and the four default genre rows: one copy each, whatever the Host.
    assert len(rows) == 5
