"""Wrong passwords are throttled per account and client address, never per account alone.

Sign-in and password change share the count: both are guesses at one password.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.factories import PASSWORD, make_user
from tests.services import free_port
from web import rate_limits

ATTACKER, OWNER, ELSEWHERE = "203.0.113.9", "198.51.100.7", "192.0.2.44"
WRONG = "not the password at all"


def login(client: FlaskClient, email: str, password: str, address: str) -> TestResponse:
    return client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def assert_rate_limited(response: TestResponse) -> None:
    assert response.status_code == 429, response.json
    assert int(response.headers["Retry-After"]) > 0
    assert response.json is not None
    error = response.json["error"]
    assert error["code"] == "rate_limited" and error["message"] and error["details"] == {}


def throttled(scope: str) -> float:
    return (
        REGISTRY.get_sample_value("cbrtl_password_guesses_throttled_total", {"scope": scope}) or 0
    )


def test_wrong_passwords_lock_out_their_address_not_the_owner(
    make_app: Any, db_session: Session
) -> None:
    client = make_app(rate_limit_login_account="3 per minute").test_client(use_cookies=False)
    user = make_user(db_session)
    assert [login(client, user.email, WRONG, ATTACKER).status_code for _ in range(3)] == [401] * 3
    before = throttled("client")
    # The attacker's address is refused even the right password, without a verification ...
    assert_rate_limited(login(client, user.email, PASSWORD, ATTACKER))
    # ... the owner, from their own address, signs in.
    assert login(client, user.email, PASSWORD, OWNER).status_code == 200
    assert throttled("client") == before + 1


def test_the_right_password_clears_the_count_of_its_address(
    make_app: Any, db_session: Session
) -> None:
    client = make_app(rate_limit_login_account="3 per minute").test_client(use_cookies=False)
    user = make_user(db_session)
    for _ in range(2):
        assert login(client, user.email, WRONG, OWNER).status_code == 401
    assert login(client, user.email, PASSWORD, OWNER).status_code == 200
    for _ in range(3):
        assert login(client, user.email, WRONG, OWNER).status_code == 401
    assert_rate_limited(login(client, user.email, WRONG, OWNER))


def test_an_account_attacked_from_many_addresses_alerts_and_slows_down(
    make_app: Any, db_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(
        rate_limit_login_account="3 per minute", rate_limit_login_account_alert="2 per minute"
    )
    client = app.test_client(use_cookies=False)
    user = make_user(db_session)
    for address in ("203.0.113.1", "203.0.113.2"):
        assert login(client, user.email, WRONG, address).status_code == 401
    before = throttled("account")
    with caplog.at_level(logging.WARNING, logger=rate_limits.__name__):
        started = time.monotonic()
        assert login(client, user.email, WRONG, "203.0.113.3").status_code == 401
        assert time.monotonic() - started >= rate_limits.SLOWDOWN_S
    assert throttled("account") == before + 1
    warning = next(r for r in caplog.records if r.name == rate_limits.__name__)
    assert warning.levelno == logging.WARNING and warning.__dict__["account"] == user.email
    # Never a refusal of the right password from an address that did not guess.
    assert login(client, user.email, PASSWORD, ELSEWHERE).status_code == 200


def test_wrong_current_passwords_are_throttled_like_sign_ins(
    make_app: Any, db_session: Session
) -> None:
    client = make_app(rate_limit_login_account="3 per minute").test_client(use_cookies=False)
    user = make_user(db_session)
    token = login(client, user.email, PASSWORD, ATTACKER).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def change(current: str, address: str) -> TestResponse:
        return client.put(
            "/api/v1/me/password",
            json={"current_password": current, "new_password": "a brand new passphrase"},
            headers=headers,
            environ_base={"REMOTE_ADDR": address},
        )

    assert [change(WRONG, ATTACKER).status_code for _ in range(3)] == [422] * 3
    assert_rate_limited(change(WRONG, ATTACKER))
    # The same count guards sign-in from that address ...
    assert_rate_limited(login(client, user.email, PASSWORD, ATTACKER))
    # ... and the owner, elsewhere, still changes the password.
    assert change(PASSWORD, OWNER).status_code == 204


def test_with_redis_down_the_throttle_counts_in_memory(make_app: Any, db_session: Session) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    app = make_app(redis_url=down, rate_limit_login_account="2 per minute")
    client = app.test_client(use_cookies=False)
    user = make_user(db_session)
    assert [login(client, user.email, WRONG, ATTACKER).status_code for _ in range(2)] == [401] * 2
    assert_rate_limited(login(client, user.email, WRONG, ATTACKER))
    assert login(client, user.email, PASSWORD, OWNER).status_code == 200
