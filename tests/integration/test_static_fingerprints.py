"""Asset fingerprints are kept per file, in a bounded store: spellings of one path
that a client makes up do not grow the web process."""

from __future__ import annotations

from flask.testing import FlaskClient

from web.pages import rendering

FINGERPRINTS = 256  # web/pages/rendering.py keeps at most this many


def test_made_up_spellings_of_a_static_path_stay_within_the_bound(client: FlaskClient) -> None:
    rendering._fingerprint.cache_clear()
    for n in range(FINGERPRINTS + 50):
        answer = client.get(f"/static/{'./' * n}css/site.css?v=0")
        assert answer.status_code in (200, 404)
    assert rendering._fingerprint.cache_info().currsize <= FINGERPRINTS
