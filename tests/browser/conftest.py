"""Pages in headless Chromium (Debian's `chromium`, driven by Playwright) against a real
platform: gunicorn, two celery workers, PostgreSQL, RabbitMQ, Redis and S3 (moto).

The platform is started once for the browser tests and seeded with the demo catalogue
and one sample video; each test signs in as its own user. Screenshots of every page go
to `artifacts/screenshots/` (CBRTL_SCREENSHOTS moves them), which CI keeps.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests import services
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.processes import Api, Platform, platform_on_services
from tests.services import wait_for

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("CBRTL_SCREENSHOTS", ROOT / "artifacts" / "screenshots"))
PASSWORD = "browser-tests-secret"


@dataclass
class Site:
    platform: Platform
    api: Api
    video_title_id: int  # a title whose sample video is ready, with several rungs

    @property
    def base_url(self) -> str:
        return self.platform.base_url

    def user(self, *roles: str) -> str:
        """A new account (with `roles`) made with the CLI; returns its email."""
        email = f"{'-'.join(roles) or 'user'}-{uuid.uuid4().hex[:8]}@example.org"
        args = ["users", "create", "--email", email, "--password", PASSWORD]
        for role in roles:
            args += ["--role", role]
        self.platform.cbrtl(*args)
        return email

    def token(self, email: str) -> str:
        return self.api.token(email, PASSWORD)

    def video(self, content_id: int) -> dict[str, Any]:
        response = self.api.call("GET", f"/content/{content_id}/video")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, moto: services.MotoServer) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("browser")
    with platform_on_services(workdir, moto) as platform:
        seeded = platform.cbrtl(
            *("demo", "seed", "--titles", "150", "--users", "120", "--ratings", "5000"),
            *("--videos", "1"),
        )
        found = re.search(r"content (\d+): sample video", seeded.stdout + seeded.stderr)
        assert found, seeded.stdout + seeded.stderr
        platform.start_web()
        platform.start_worker("ratings,default")
        platform.start_worker("media,ml")
        site = Site(platform=platform, api=Api(platform.base_url), video_title_id=int(found[1]))
        wait_for(
            lambda: site.video(site.video_title_id)["status"] == "ready",
            timeout=240,
            what="the demo video transcoded",
        )
        yield site


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # Players start without a click, as the tests start them by script.
            args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"],
        )
        yield browser
        browser.close()


@dataclass
class Problems:
    """What must not happen in a page: uncaught script errors, CSP refusals."""

    seen: list[str]

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.seen.append(f"CSP: {message.text}")


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(base_url=site.base_url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = Problems(seen=[])
    page.on("pageerror", lambda error: problems.seen.append(f"script error: {error}"))
    page.on("console", problems.console)
    yield page
    context.close()
    assert not problems.seen, problems.seen


def shoot(page: Page, name: str) -> Path:
    """A full-page screenshot for CI's artifacts (and the README's pictures)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, email: str, *, next_path: str = "/") -> None:
    page.goto(f"/login?next={next_path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # Not a glob: "**/" would match the login page's own "?next=/" at once.
    page.wait_for_url(lambda url: "/login" not in url and url.endswith(next_path))


def api_json(site: Site, method: str, path: str, token: str, **kw: Any) -> Any:
    response: requests.Response = site.api.call(method, path, token, **kw)
    assert response.ok, response.text
    return response.json() if response.content else None


@pytest.fixture
def browser_phone(browser: Browser, site: Site) -> Iterator[Page]:
    """A phone-sized page (390x844, touch)."""
    context = browser.new_context(
        base_url=site.base_url,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    yield context.new_page()
    context.close()
