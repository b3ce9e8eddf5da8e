"""A creator uploads a clip from the page: progress while sending, a dropped connection
survived, a reload resumed, then the transcode followed to ready and played."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import Site, shoot, sign_in
from workers.media.samples import make_sample_clip

UPLOAD_CHUNKS = re.compile(r".*/api/v1/uploads/[^/]+$")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    return make_sample_clip(
        folder / "my-holiday.mp4", seconds=4, size="640x360", pattern=2, preset="ultrafast"
    )


def fill_form(page: Page, clip: Path, title: str) -> None:
    page.get_by_label("Video file").set_input_files(str(clip))
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill("Uploaded from the browser test.")
    page.get_by_label("Year").fill("2026")
    page.get_by_label("Documentary").check()


def test_upload_survives_a_dropped_connection_and_reaches_ready(
    page: Page, site: Site, clip: Path
) -> None:
    sign_in(page, site.user("creator"), next_path="/upload")
    dropped: list[str] = []

    def drop_first_chunk(route: Route) -> None:
        if route.request.method == "PUT" and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(UPLOAD_CHUNKS, drop_first_chunk)
    fill_form(page, clip, "My holiday")
    shoot(page, "upload-form")
    page.get_by_role("button", name="Upload").click()

    panel = page.locator("[data-upload-progress]")
    expect(panel).to_be_visible()
    expect(page.locator("[data-sent-text]")).to_contain_text("100%", timeout=60_000)
    assert dropped, "the first chunk was dropped and sent again"
    page.wait_for_function(
        "() => { const s = document.querySelector('[data-upload-progress]').dataset.videoStatus;"
        " if (s) window.__seen = [...(window.__seen || []), s]; return s === 'ready'; }",
        timeout=180_000,
        polling=200,
    )
    seen = page.evaluate("() => window.__seen")
    assert seen[0] in ("queued", "processing"), seen
    expect(page.locator("[data-processed-text]")).to_have_text("Ready to watch.")
    assert page.locator("[data-processed]").evaluate("p => p.value") == 1
    shoot(page, "upload-ready")

    page.get_by_role("link", name="▶ Watch it").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My holiday")
    expect(page.get_by_label("Quality")).to_be_enabled()
    page.eval_on_selector("video", "v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.5")


def test_a_reload_mid_upload_resumes_where_it_stopped(page: Page, site: Site, clip: Path) -> None:
    sign_in(page, site.user("creator"), next_path="/upload")
    page.route(UPLOAD_CHUNKS, lambda route: route.abort("internetdisconnected"))
    fill_form(page, clip, "Interrupted upload")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("[data-sent-text]")).to_contain_text("retrying")
    content_id = page.locator("[data-upload-progress]").get_attribute("data-content-id")

    page.unroute(UPLOAD_CHUNKS)
    page.reload()
    fill_form(page, clip, "Interrupted upload")
    page.get_by_role("button", name="Upload").click()
    panel = page.locator("[data-upload-progress]")
    expect(panel).to_have_attribute("data-resumed", "yes")
    expect(panel).to_have_attribute("data-content-id", content_id or "missing")
    expect(panel).to_have_attribute("data-video-status", "ready", timeout=180_000)
    # One title, not two: the resumed upload reused it.
    titles = site.api.call("GET", "/content", params={"q": "Interrupted upload"}).json()
    assert titles["total"] == 1, titles
