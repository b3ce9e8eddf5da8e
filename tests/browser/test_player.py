"""Playing a ready video: hls.js plays it, the quality menu switches rungs, and the
position is saved and resumed."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, api_json, shoot, sign_in
from tests.services import wait_for


def test_play_switch_quality_and_resume(page: Page, site: Site) -> None:
    email = site.user()
    token = site.token(email)
    title = site.video_title_id
    rungs = site.video(title)["renditions"]
    assert len(rungs) >= 2, rungs
    sign_in(page, email, next_path=f"/video?id={title}")

    quality = page.get_by_label("Quality")
    expect(quality).to_be_enabled()
    assert quality.locator("option").count() == len(rungs) + 1  # auto and each rung
    page.eval_on_selector("video", "v => { v.muted = true; return v.play(); }")
    player = page.locator("[data-player]")
    expect(player).to_have_attribute("data-level-height", re.compile(r"^\d+$"))

    # Each rung on demand: the one chosen plays, and automatic choice is off.
    options = quality.locator("option")
    for index in (options.count() - 1, 1):
        wanted = options.nth(index).inner_text().split("p")[0]
        quality.select_option(index=index)
        expect(player).to_have_attribute("data-level-height", wanted)
        expect(page.locator("[data-level-now]")).to_have_text(f"Playing {wanted}p")
    quality.select_option(index=0)
    expect(page.locator("[data-level-now]")).to_contain_text("(auto)")
    shoot(page, "player")

    page.eval_on_selector("video", "v => { v.currentTime = 5; }")
    page.wait_for_function("() => document.querySelector('video').currentTime >= 5")
    page.eval_on_selector("video", "v => v.pause()")

    def saved() -> float:
        history = api_json(site, "GET", "/me/history", token)["items"]
        return next((h["position_s"] for h in history if h["content"]["id"] == title), 0.0)

    wait_for(lambda: saved() >= 4.5, timeout=15, what="the position saved")

    page.reload()
    assert float(player.get_attribute("data-resume") or 0) >= 4.5
    expect(page.locator("[data-resume-note]")).to_contain_text("Resuming at 0:0")
    page.wait_for_function("() => document.querySelector('video').currentTime >= 4.5")

    page.goto("/")  # the unfinished title now waits in Continue watching
    expect(
        page.locator(f'[data-row="continue_watching"] a[href="/content?id={title}"]')
    ).to_be_visible()
