"""A newcomer's first minutes: register, pick genres, a full home page, a title, a rating."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Site, api_json, shoot, sign_in


def test_visitor_sees_trending_and_genres_and_is_asked_to_sign_in(page: Page) -> None:
    page.goto("/")
    expect(page.locator('[data-row="trending"] .card').first).to_be_visible()
    assert page.locator('[data-row^="genre:"]').count() >= 2
    assert page.locator('[data-row="recommended"]').count() == 0
    expect(page.get_by_role("link", name="Create an account").first).to_be_visible()
    shoot(page, "home-anonymous")


def test_register_pick_genres_see_home_open_a_title_and_rate_it(page: Page, site: Site) -> None:
    email = f"newcomer-{uuid.uuid4().hex[:8]}@example.org"
    page.goto("/register")
    shoot(page, "register")
    page.get_by_label("Your name").fill("Newcomer")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    page.wait_for_url("**/welcome")
    expect(page.get_by_role("heading", name="Welcome, Newcomer")).to_be_visible()
    page.get_by_label("Comedy").check()
    page.get_by_label("Sci-Fi").check()
    shoot(page, "welcome-genres")
    page.get_by_role("button", name="Continue to your home page").click()

    page.wait_for_url(site.base_url + "/")
    rows = page.locator("[data-row]")
    keys = [rows.nth(i).get_attribute("data-row") for i in range(rows.count())]
    assert keys[:3] == ["recommended", "continue_watching", "trending"], keys
    assert "genre:Comedy" in keys and "genre:Sci-Fi" in keys, keys
    recommended = page.locator('[data-row="recommended"] .card')
    assert recommended.count() >= 5
    expect(recommended.first.locator(".card-reason")).not_to_be_empty()
    shoot(page, "home")

    first = page.locator('[data-row="genre:Comedy"] .card a').first
    title = first.locator(".card-title").inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    content_id = int(page.url.split("id=")[1])
    expect(page.locator("[data-your-rating]")).to_have_text("Not rated yet")

    # Half steps from the keyboard-reachable radios behind the stars.
    page.locator("label[for=score-7]").click()  # 3.5 stars
    expect(page.locator("[data-form-status]")).to_have_text("Rating saved.")
    expect(page.locator("[data-your-rating]")).to_have_text("You gave it 3.5 ★")
    shoot(page, "content")
    token = site.token(email)
    assert api_json(site, "GET", f"/content/{content_id}", token)["your_rating"] == 3.5

    page.locator("#score-7").focus()
    page.keyboard.press("ArrowRight")  # in a radio group the arrows move the choice
    expect(page.locator("[data-your-rating]")).to_have_text("You gave it 4.0 ★")
    assert api_json(site, "GET", f"/content/{content_id}", token)["your_rating"] == 4.0

    page.get_by_role("button", name="Clear my rating").click()
    expect(page.locator("[data-your-rating]")).to_have_text("Not rated yet")
    assert api_json(site, "GET", f"/content/{content_id}", token)["your_rating"] is None

    page.reload()  # what the page shows comes from the server too
    expect(page.locator("[data-your-rating]")).to_have_text("Not rated yet")
    assert page.locator("[data-row] .card, .row .card").count() > 0  # similar titles


def test_signed_in_home_lists_the_rated_title_nowhere_in_recommended(
    page: Page, site: Site
) -> None:
    email = site.user()
    token = site.token(email)
    sign_in(page, email)
    first = page.locator('[data-row="recommended"] .card a').first
    content_id = int((first.get_attribute("href") or "").split("id=")[1])
    api_json(site, "PUT", f"/content/{content_id}/rating", token, json={"score": 4.0})
    page.reload()
    hrefs = page.locator('[data-row="recommended"] .card a').evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert f"/content?id={content_id}" not in hrefs
