"""schemathesis against the served OpenAPI document: no 500s, no schema violations.

Bounded in time. `positive_data_acceptance` is left out because some rules
cannot be written in a JSON schema (the password policy's blocklist, genres
that must exist in the catalogue), so schema-valid input may rightly get a 422.
The session-ending operations are left out of the authenticated run, which
would otherwise revoke its own token; their own tests cover them.
"""

from __future__ import annotations

import subprocess

from tests.e2e.processes import Api, Platform
from tests.services import VENV_BIN

PASSWORD = "correct horse battery staple"
FUZZ_SECONDS = "35"


def test_api_fuzz_finds_no_server_error_and_no_schema_violation(on_services: Platform) -> None:
    for name in ("LOGIN_IP", "LOGIN_ACCOUNT", "REGISTER_IP"):
        on_services.env[f"CBRTL_RATE_LIMIT_{name}"] = "100000 per minute"
    on_services.cbrtl(
        "users", "create", "--email", "fuzz@example.org", "--password", PASSWORD, "--role", "admin"
    )
    on_services.start_web()
    api = Api(on_services.base_url)
    token = api.token("fuzz@example.org", PASSWORD)
    created = api.call("POST", "/content", token, json={"title": "Fuzz", "genres": ["Drama"]})
    assert created.status_code == 201

    done = subprocess.run(
        [
            str(VENV_BIN / "schemathesis"),
            "run",
            f"{on_services.base_url}/api/v1/openapi.json",
            "--url",
            on_services.base_url,
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--exclude-path",
            "/api/v1/auth/logout",
            "--exclude-path",
            "/api/v1/auth/refresh",
            "--header",
            f"Authorization: Bearer {token}",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-time",
            FUZZ_SECONDS,
            "--workers",
            "2",
            "--seed",
            "20261128",
        ],
        capture_output=True,
        text=True,
        timeout=int(FUZZ_SECONDS) + 120,
        cwd=on_services.workdir,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Server error" not in done.stdout
