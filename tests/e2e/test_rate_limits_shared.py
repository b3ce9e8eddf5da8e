"""On the embedded default a limit holds across gunicorn's processes: with two
workers (and no Redis) the 429 comes at exactly the configured count, not at
about twice it."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.e2e.processes import Platform

LOGIN_FAILURES = 5
SIGN_UPS = 4
CALLS = 24


def hammer(url: str, bodies: list[dict[str, str]]) -> Counter[int]:
    """POST every body at once, each on a new connection so both workers take some."""
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = pool.map(lambda body: requests.post(url, json=body, timeout=60), bodies)
        return Counter(response.status_code for response in statuses)


def test_limits_hold_across_web_processes(embedded: Platform) -> None:
    embedded.env.update(
        CBRTL_WEB_WORKERS="2",
        CBRTL_WEB_THREADS="4",
        CBRTL_RATE_LIMIT_LOGIN_IP="1000 per minute",
        CBRTL_RATE_LIMIT_LOGIN_ACCOUNT=f"{LOGIN_FAILURES} per 15 minutes",
        CBRTL_RATE_LIMIT_REGISTER_IP=f"{SIGN_UPS} per hour",
    )
    embedded.start_web()
    api = f"{embedded.base_url}/api/v1"

    wrong = {"email": "target@example.org", "password": "not the password"}
    logins = hammer(f"{api}/auth/login", [wrong] * CALLS)
    assert logins == {401: LOGIN_FAILURES, 429: CALLS - LOGIN_FAILURES}

    sign_ups = [
        {"email": f"u{i}@example.org", "password": "a long enough pass", "display_name": "U"}
        for i in range(CALLS)
    ]
    registered = hammer(f"{api}/auth/register", sign_ups)
    assert registered == {201: SIGN_UPS, 429: CALLS - SIGN_UPS}
