"""axe-core (the engine browsers' accessibility audits use) finds no WCAG 2.1 A/AA
violation on any page: labels, names, contrast, landmarks, alt text."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.browser.conftest import Site, sign_in

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def audit(axe: Axe, page: Page, path: str) -> list[str]:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    results = axe.run(page, options=WCAG_AA)
    return [
        f"{path}: {v['id']} ({v['impact']}) x{len(v['nodes'])}: {v['help']}"
        for v in results.response["violations"]
    ]


def test_public_pages_pass_wcag_aa(axe: Axe, page: Page, site: Site) -> None:
    title = site.video_title_id
    found: list[str] = []
    for path in ("/", "/login", "/register", f"/content?id={title}", f"/video?id={title}"):
        found += audit(axe, page, path)
    found += audit(axe, page, "/content?id=987654321")  # an error page
    assert not found, "\n".join(found)

    # The audit is live: an unlabelled input and an image without alt text are caught.
    page.eval_on_selector(
        "main", "m => m.insertAdjacentHTML('beforeend', '<input><img src=\"/static/favicon.svg\">')"
    )
    caught = {v["id"] for v in axe.run(page, options=WCAG_AA).response["violations"]}
    assert {"label", "image-alt"} <= caught, caught


def test_signed_in_pages_pass_wcag_aa(axe: Axe, page: Page, site: Site) -> None:
    sign_in(page, site.user("creator", "ops"))
    title = site.video_title_id
    found: list[str] = []
    for path in (
        "/",
        "/welcome",
        "/profile",
        "/upload",
        "/admin/jobs",
        f"/content?id={title}",
        f"/video?id={title}",
    ):
        found += audit(axe, page, path)
    assert not found, "\n".join(found)
