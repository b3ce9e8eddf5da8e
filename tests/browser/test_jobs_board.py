"""Operators watch jobs live and send a failed one round again from the board."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, api_json, shoot, sign_in
from tests.services import wait_for
from workers.media.samples import make_sample_clip


def failed_transcode(site: Site, tmp_path: Path) -> tuple[int, int]:
    """A creator uploads the head of an MP4 whose index was at its end: it looks like a
    video to the upload, and the transcode fails with its reason."""
    clip = make_sample_clip(tmp_path / "whole.mp4", seconds=2, size="320x180", faststart=False)
    junk = clip.read_bytes()[:20_000]
    token = site.token(site.user("creator"))
    item = api_json(site, "POST", "/content", token, json={"title": "Not really a video"})
    upload = api_json(
        site,
        "POST",
        f"/content/{item['id']}/uploads",
        token,
        json={"filename": "junk.mp4", "size_bytes": len(junk), "content_type": "video/mp4"},
    )
    api_json(
        site,
        "PUT",
        f"/uploads/{upload['upload_id']}",
        token,
        data=junk,
        headers={"Content-Range": f"bytes 0-{len(junk) - 1}/{len(junk)}"},
    )
    job = api_json(site, "POST", f"/uploads/{upload['upload_id']}/complete", token)["job"]
    return item["id"], job["id"]


def test_ops_user_retries_a_failed_job_from_the_board(
    page: Page, site: Site, tmp_path: Path
) -> None:
    content_id, job_id = failed_transcode(site, tmp_path)
    ops = site.user("ops")
    ops_token = site.token(ops)

    def job() -> dict[str, Any]:
        found: dict[str, Any] = api_json(site, "GET", f"/jobs/{job_id}", ops_token)
        return found

    wait_for(lambda: job()["status"] in ("failed", "dead"), timeout=90, what="the job failed")
    before = job()

    # Anyone may see the title's page say why its video failed.
    page.goto(f"/video?id={content_id}")
    expect(page.locator("[data-video-state]")).to_contain_text("could not be processed")

    sign_in(page, ops, next_path=f"/admin/jobs?status={before['status']}")
    row = page.locator(f'[data-job-id="{job_id}"]')
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text(before["status"])
    expect(row.locator(".error-cell")).not_to_be_empty()
    assert page.locator("[data-job-status]").evaluate_all(
        f"rows => rows.every(r => r.dataset.jobStatus === '{before['status']}')"
    )
    shoot(page, "jobs-board")

    row.get_by_role("button", name="Retry").click()
    expect(page.locator("[data-form-status]")).to_have_text(f"Job {job_id} queued again.")
    # Sent round again: it runs anew and, the bytes being no better, fails again later.
    wait_for(
        lambda: job()["started_at"] != before["started_at"] or job()["status"] == "queued",
        timeout=60,
        what="the job run again",
    )
    page.get_by_label("Status").select_option("")  # all statuses: the row stays listed
    expect(row).to_be_visible()


def test_the_board_is_for_ops_only_and_says_so(page: Page, site: Site) -> None:
    sign_in(page, site.user())
    response = page.goto("/admin/jobs")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.locator("main")).to_contain_text("needs the ops role")
