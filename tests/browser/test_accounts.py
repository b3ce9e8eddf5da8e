"""Sign-in and sign-up errors in words, the profile's forms, signing out, and a session
renewed by the page when its access cookie has gone."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Site, api_json, shoot, sign_in


def test_wrong_password_and_weak_password_are_explained_in_the_page(page: Page, site: Site) -> None:
    email = site.user()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    status = page.locator("[data-form-status]")
    expect(status).to_have_attribute("data-kind", "error")
    assert "{" not in status.inner_text() and len(status.inner_text()) > 10
    shoot(page, "login-error")

    page.goto("/register")
    page.get_by_label("Your name").fill("Weak")
    taken = f"weak-{uuid.uuid4().hex[:6]}@example.org"
    page.get_by_label("Email").fill(taken)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator('[data-error-for="password"]')).not_to_be_empty()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    assert page.url.endswith("/register")
    login = site.api.call("POST", "/auth/login", json={"email": taken, "password": "short"})
    assert login.status_code == 401  # nothing was created


def test_profile_name_password_preferences_and_sign_out(page: Page, site: Site) -> None:
    email = site.user()
    sign_in(page, email, next_path="/profile")
    page.get_by_label("Display name").fill("Renamed Person")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_text("Saved.", exact=True)).to_be_visible()

    page.get_by_label("Drama").check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Preferences saved.")).to_be_visible()

    new_password = PASSWORD + "-new"
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(new_password)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed")).to_be_visible()
    expect(page.get_by_label("New password")).to_have_value("")  # the form was cleared
    shoot(page, "profile")

    page.reload()
    expect(page.get_by_role("link", name="Renamed Person")).to_be_visible()
    expect(page.get_by_label("Drama")).to_be_checked()
    token = site.api.token(email, new_password)
    assert api_json(site, "GET", "/me/preferences", token)["genres"] == ["Drama"]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
    page.goto("/profile")
    page.wait_for_url("**/login?next=/profile")


def test_a_lapsed_access_cookie_is_renewed_by_the_page(page: Page, site: Site) -> None:
    sign_in(page, site.user())
    context = page.context
    kept = [c for c in context.cookies() if c["name"] != "access_token_cookie"]
    context.clear_cookies()
    context.add_cookies(kept)
    page.goto("/profile")
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    assert any(c["name"] == "access_token_cookie" for c in context.cookies())


def test_pages_fit_a_phone_screen(browser_phone: Page, site: Site) -> None:
    page = browser_phone
    title = site.video_title_id
    for path in ("/", "/login", "/register", f"/content?id={title}", f"/video?id={title}"):
        page.goto(path)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, (path, overflow)
    page.goto("/")
    shoot(page, "home-phone")
