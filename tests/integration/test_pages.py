"""Server-rendered pages through the Flask client on PostgreSQL: who sees what, errors as
pages in words, no open redirects, asset caching and compression."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from db.services import preferences, ratings, videos, viewing
from tests.factories import PASSWORD, make_content, make_user

HTML = {"Accept": "text/html,application/xhtml+xml"}


def sign_in(client: FlaskClient, email: str) -> None:
    """As a browser does: the login answer sets the cookies the pages read."""
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.json


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == status, (path, response.status_code)
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_anonymous_home_has_trending_and_genres_and_a_sign_in_prompt(
    client: FlaskClient, db_session: Session
) -> None:
    item = make_content(db_session, title="Anonymous Favourite", genres=["Drama"])
    voter = make_user(db_session)
    ratings.rate(session=db_session, user_id=voter.id, content_id=item.id, score=4.5)
    ratings.recompute_stats(session=db_session, content_id=item.id)  # as the ratings queue does
    db_session.commit()
    html = page(client, "/")
    assert 'data-row="trending"' in html
    assert 'data-row="genre:Drama"' in html
    assert 'data-row="recommended"' not in html
    assert "Anonymous Favourite" in html
    assert 'href="/register"' in html and "Sign in" in html


def test_signed_in_home_has_recommended_with_reasons_and_liked_genres(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session)
    for n in range(3):
        make_content(db_session, title=f"Comedy {n}", genres=["Comedy"])
    preferences.set_genres(session=db_session, user_id=user.id, names=["Comedy"])
    db_session.commit()
    sign_in(client, user.email)
    html = page(client, "/")
    assert 'data-row="recommended"' in html
    assert 'data-row="continue_watching"' in html
    assert 'data-row="genre:Comedy"' in html
    assert re.search(r'class="card-reason">[^<]+<', html), "recommended cards carry a reason"
    assert user.display_name in html  # the header names who is signed in


def test_homepage_api_rows_carry_the_reason_for_recommended_items(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session)
    make_content(db_session, genres=["Comedy"])
    preferences.set_genres(session=db_session, user_id=user.id, names=["Comedy"])
    db_session.commit()
    sign_in(client, user.email)
    rows = {row["key"]: row for row in client.get("/api/v1/homepage").json["rows"]}
    assert rows["recommended"]["items"], rows.keys()
    assert all(item["reason"] for item in rows["recommended"]["items"])


def test_content_page_shows_details_your_rating_and_the_play_state(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session)
    item = make_content(
        db_session, title="Page Title", description="About it", genres=["Drama"], release_year=1999
    )
    ratings.rate(session=db_session, user_id=user.id, content_id=item.id, score=3.5)
    db_session.commit()
    anonymous = page(client, f"/content?id={item.id}")
    assert "Page Title" in anonymous and "About it" in anonymous and "1999" in anonymous
    assert "Sign in</a> to rate it" in anonymous
    sign_in(client, user.email)
    html = page(client, f"/content?id={item.id}")
    assert 'value="3.5" checked' in html
    assert "You gave it 3.5 ★" in html
    assert "No video for this title yet." in html


def test_content_page_lists_viewers_ratings_newest_first_in_pages(
    client: FlaskClient, db_session: Session
) -> None:
    item = make_content(db_session, title="Rated Title")
    raters = [make_user(db_session) for _ in range(12)]
    for rater in raters:  # each later rating is newer
        ratings.rate(session=db_session, user_id=rater.id, content_id=item.id, score=4.0)
        db_session.commit()
    first = page(client, f"/content?id={item.id}")
    listed = re.findall(r'<span class="who">([^<]+)</span>', first)
    assert listed == [r.display_name for r in reversed(raters)][:10]
    assert "Page 1 of 2" in first and f"?id={item.id}&amp;page=2#ratings" in first
    second = page(client, f"/content?id={item.id}&page=2")
    assert re.findall(r'<span class="who">([^<]+)</span>', second) == [
        raters[1].display_name,
        raters[0].display_name,
    ]
    assert raters[0].email not in first + second
    empty = page(client, f"/content?id={make_content(db_session).id}")
    assert "No ratings yet." in empty


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("", 422, "needs ?id= followed by a number"),
        ("?id=abc", 422, "needs ?id= followed by a number"),
        ("?id=-3", 422, "needs ?id= followed by a number"),
        ("?id=99999999999999999999", 404, "no such title"),
        ("?id=" + "9" * 5000, 404, "no such title"),
        ("?id=²", 422, "needs ?id= followed by a number"),
        ("?id=987654321", 404, "not found"),
    ],
)
def test_bad_title_addresses_are_pages_in_words(
    client: FlaskClient, query: str, status: int, words: str
) -> None:
    for path in ("/content", "/video"):
        html = page(client, path + query, status)
        assert words.lower() in html.lower()
        assert '"error"' not in html  # not the API's JSON


def test_api_errors_stay_json_for_browsers_too(client: FlaskClient) -> None:
    response = client.get("/api/v1/content/987654321", headers=HTML)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_unknown_page_is_a_404_page(client: FlaskClient) -> None:
    assert "Not found" in page(client, "/no/such/page", 404)


@pytest.mark.parametrize("path", ["/profile", "/welcome", "/upload", "/admin/jobs"])
def test_private_pages_send_visitors_to_sign_in_and_back(client: FlaskClient, path: str) -> None:
    # The way back keeps its query string.
    response = client.get("/admin/jobs?status=dead", headers=HTML)
    assert response.headers["Location"] == "/login?next=/admin/jobs%3Fstatus%3Ddead"
    response = client.get(path, headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


@pytest.mark.parametrize(("path", "role"), [("/upload", "creator"), ("/admin/jobs", "ops")])
def test_role_pages_refuse_other_users_in_words(
    client: FlaskClient, db_session: Session, path: str, role: str
) -> None:
    plain = make_user(db_session)
    allowed = make_user(db_session, roles=(role,))
    db_session.commit()
    sign_in(client, plain.email)
    assert f"needs the {role} role" in page(client, path, 403)
    sign_in(client, allowed.email)
    page(client, path)


def test_login_page_only_returns_to_paths_on_this_site(
    client: FlaskClient, db_session: Session
) -> None:
    assert 'data-then="/profile"' in page(client, "/login?next=/profile")
    for evil in (
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example/x",
        "/%5Cevil.example",
        "javascript:alert(1)",
    ):
        assert 'data-then="/"' in page(client, f"/login?next={evil}")
    user = make_user(db_session)
    db_session.commit()
    sign_in(client, user.email)
    response = client.get("/login?next=//evil.example/", headers=HTML)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_profile_shows_details_preferences_and_history(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session)
    watched = make_content(db_session, title="Half Watched")
    viewing.record_progress(
        session=db_session, user_id=user.id, content_id=watched.id, position_s=125, completed=False
    )
    preferences.set_genres(session=db_session, user_id=user.id, names=["Comedy"])
    db_session.commit()
    sign_in(client, user.email)
    html = page(client, "/profile")
    assert user.email in html
    for odd in ("²", "9" * 5000, "-1", "0"):
        assert "Half Watched" in page(client, f"/profile?page={odd}")  # the first page
    assert 'value="Comedy" checked' in html
    assert "Half Watched" in html and "2:05 — resume" in html


def test_player_page_resumes_where_the_user_stopped(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session)
    item = make_content(db_session)
    viewing.record_progress(
        session=db_session, user_id=user.id, content_id=item.id, position_s=42.5, completed=False
    )
    db_session.commit()
    assert 'data-resume="0.00"' in page(client, f"/video?id={item.id}")
    sign_in(client, user.email)
    html = page(client, f"/video?id={item.id}")
    assert 'data-resume="42.50"' in html
    assert "no video for this title yet" in html.lower()


def test_expired_access_cookie_with_a_refresh_cookie_asks_the_page_to_renew(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session)
    db_session.commit()
    sign_in(client, user.email)
    client.delete_cookie("access_token_cookie")
    html = page(client, "/profile")
    assert "data-refresh-session" in html and "Signing you back in" in html
    client.delete_cookie("csrf_refresh_token")
    assert client.get("/profile", headers=HTML).status_code == 302


def test_assets_are_fingerprinted_cached_and_compressed(client: FlaskClient) -> None:
    html = page(client, "/login")
    css = re.search(r'href="(/static/css/site\.css\?v=[0-9a-f]{12})"', html)
    assert css, "stylesheet URL carries a content hash"
    response = client.get(css.group(1), headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]
    assert response.headers.get("Content-Encoding") == "br"
    stale = client.get("/static/css/site.css?v=000000000000")
    assert "immutable" not in stale.headers.get("Cache-Control", "")
    home = client.get("/", headers={**HTML, "Accept-Encoding": "gzip"})
    assert home.headers.get("Content-Encoding") == "gzip"
    assert "private" in home.headers["Cache-Control"]


def test_pages_load_no_inline_script_under_the_csp(client: FlaskClient) -> None:
    html = page(client, "/register")
    assert re.search(r"<script(?![^>]*\ssrc=)", html) is None
    assert "script-src 'self'" in client.get("/register").headers["Content-Security-Policy"]


def test_the_csp_lets_pages_load_media_from_a_plain_http_storage_endpoint(make_app: Any) -> None:
    app = make_app(s3_endpoint_url="http://minio.lan:9000", media_base_url=None)
    policy = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "img-src data: 'self' blob: http://minio.lan:9000;" in policy
    assert "media-src 'self' blob: http://minio.lan:9000;" in policy
    assert "script-src 'self';" in policy  # scripts stay our own


def test_cards_show_a_small_still_and_the_title_page_the_poster(
    client: FlaskClient, db_session: Session
) -> None:
    item = make_content(db_session, title="With Pictures", genres=["Drama"])
    video = videos.get_or_create(session=db_session, content_id=item.id)
    prefix = f"videos/{item.id}/j1"
    video.status = "ready"
    video.master_key = f"{prefix}/master.m3u8"
    video.poster_key = f"{prefix}/poster.jpg"
    video.thumbnail_keys = [f"{prefix}/thumbs/{n}.jpg" for n in (1, 2, 3)]
    db_session.commit()
    home = page(client, "/")
    card = re.search(r'<img src="([^"]+)" alt="Still from With Pictures"', home)
    assert card and f"{prefix}/thumbs/2.jpg" in card.group(1)
    title = page(client, f"/content?id={item.id}")
    assert re.search(
        rf'<img src="[^"]*{prefix}/poster\.jpg[^"]*" alt="Poster of With Pictures"', title
    )
    assert "▶ Play" in title
