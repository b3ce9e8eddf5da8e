"""Deleting a title on the embedded default (gunicorn, a worker, SQLite, the filesystem
broker, local storage): its media answer 404 at once, and the purge job the delete
queued empties its folders."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.e2e.processes import Api, Platform
from tests.e2e.test_video import make_clip, upload, wait_for_video
from tests.factories import PASSWORD
from tests.services import wait_for


def first_uri(playlist_url: str) -> str:
    text = requests.get(playlist_url, timeout=10).text
    line = next(x for x in text.splitlines() if x and not x.startswith("#"))
    return urljoin(playlist_url, line)


def test_a_deleted_title_is_gone_from_the_web_at_once_then_from_storage(
    embedded: Platform, tmp_path: Path
) -> None:
    embedded.cbrtl(
        "users", "create", "--email", "maker@example.org", "--password", PASSWORD,
        "--role", "creator", "--role", "ops",
    )  # fmt: skip
    embedded.start_web()
    embedded.start_worker("media,default")
    api = Api(embedded.base_url)
    token = api.token("maker@example.org", PASSWORD)
    content_id = api.call("POST", "/content", token, json={"title": "Doomed"}).json()["id"]
    upload(api, token, content_id, make_clip(tmp_path / "c.mp4", size="320x180", seconds=3))
    video = wait_for_video(api, content_id, {"ready", "failed"}, timeout=240)[-1]
    assert video["status"] == "ready", video
    variant = first_uri(video["master_url"])
    urls = [video["master_url"], variant, first_uri(variant), video["poster_url"]]
    assert [requests.get(u, timeout=10).status_code for u in urls] == [200] * 4
    media = Path(embedded.env["CBRTL_DATA_DIR"]) / "media"
    folders = [media / "videos" / str(content_id), media / "sources" / str(content_id)]
    assert all(folder.is_dir() for folder in folders)

    assert api.call("DELETE", f"/content/{content_id}", token).status_code == 204
    assert [requests.get(u, timeout=10).status_code for u in urls] == [404] * 4

    def purged() -> bool:
        listed = api.call("GET", "/jobs?type=media.purge_title", token).json()["items"]
        done = [j for j in listed if j["args"] == {"content_id": content_id}]
        return bool(done) and done[0]["status"] == "succeeded"

    wait_for(purged, timeout=60, interval=0.5, what="the purge job succeeded")
    assert not any(folder.exists() for folder in folders)
