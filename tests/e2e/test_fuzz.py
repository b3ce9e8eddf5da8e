"""schemathesis against the served OpenAPI document: no 500s, no schema violations.

Bounded in time. `positive_data_acceptance` is left out because some rules
cannot be written in a JSON schema (the password policy's blocklist, genres
that must exist in the catalogue), so schema-valid input may rightly get a 422.
The session-ending operations are left out of the authenticated run, which
would otherwise revoke its own token; their own tests cover them.

A schema says nothing of the shapes a JSON parser chokes on, so a second run sends
those to every operation that takes a JSON body: nesting deeper than any request
needs, integers of thousands of digits, floats past the largest double, and the
NaN/Infinity literals Python's json accepts. They answer 400 or 422, never 500, and
leave no traceback in the web's log.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any
from urllib.parse import quote

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


MAX_DEPTH = 32  # web/input.py: deeper bodies are malformed

hostile_numbers = st.one_of(
    st.integers(min_value=21, max_value=6000).map(lambda digits: "9" * digits),
    st.integers(min_value=21, max_value=6000).map(lambda digits: "-1" + "0" * digits),
    st.integers(min_value=309, max_value=99999).map(lambda exponent: f"1e{exponent}"),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "-1.5e999"]),
)


def json_operations(document: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(method, path, property names) of every operation that takes a JSON body."""
    schemas = document["components"]["schemas"]
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":  # shared by the path's operations, not one
                continue
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = content["application/json"]["schema"]
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
            found.append((method.upper(), path, sorted(schema.get("properties", {})) or ["x"]))
    return found


def test_hostile_json_shapes_answer_400_or_422(on_services: Platform) -> None:
    on_services.env["CBRTL_RATE_LIMIT_LOGIN_IP"] = "100000 per minute"
    on_services.cbrtl(
        "users",
        "create",
        "--email",
        "shapes@example.org",
        "--password",
        PASSWORD,
        "--role",
        "admin",
    )
    web = on_services.start_web()
    api = Api(on_services.base_url)
    token = api.token("shapes@example.org", PASSWORD)
    document = requests.get(f"{api.base}/openapi.json", timeout=10).json()
    operations = json_operations(document)
    assert ("POST", "/api/v1/auth/login", ["email", "password"]) in operations
    assert any(path.endswith("/rating") for _, path, _ in operations)

    def send(method: str, path: str, body: str, authorised: bool) -> requests.Response:
        url = on_services.base_url + re.sub(r"\{[^}]+\}", "1", path)
        headers = {"Content-Type": "application/json"}
        if authorised:
            headers["Authorization"] = f"Bearer {token}"
        return api.http.request(method, url, data=body, headers=headers, timeout=30)

    # The extremes first: far past the stack limit, unauthenticated and not.
    for method, path, _ in operations:
        for body in ("[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000):
            for authorised in (False, True):
                answer = send(method, path, body, authorised)
                assert answer.status_code == 400, (method, path, answer.text[:300])
                assert answer.json()["error"]["code"] == "bad_request"

    @settings(
        max_examples=8 * len(operations),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        operation=st.sampled_from(operations),
        data=st.data(),
        number=hostile_numbers,
        depth=st.integers(min_value=0, max_value=MAX_DEPTH + 8),
        authorised=st.booleans(),
    )
    def hostile(
        operation: tuple[str, str, list[str]],
        data: st.DataObject,
        number: str,
        depth: int,
        authorised: bool,
    ) -> None:
        method, path, names = operation
        name = data.draw(st.sampled_from(names))
        body = f'{{"{name}": {"[" * depth}{number}{"]" * depth}}}'
        answer = send(method, path, body, authorised)
        # The object is one level, each list one more.
        expected = 400 if depth + 1 > MAX_DEPTH else 422
        assert answer.status_code == expected, (method, path, body[:80], answer.text[:300])
        error = answer.json()["error"]
        if expected == 422:
            where = name + "".join(".0" for _ in range(depth))
            assert error["details"] == {where: "number out of range"}, error

    hostile()
    log = web.log.read_text(errors="replace")
    assert "Traceback" not in log and "unhandled error" not in log, web.tail(80)


hostile_segments = st.one_of(
    st.sampled_from(["%00", "a%00b", "%2F", "..", "%2e%2e", "%C0%AE", "%FF", "9" * 5000, "-1"]),
    st.text(min_size=1, max_size=40).map(lambda text: quote(text, safe="")),
)


def test_hostile_path_and_query_segments_never_answer_500(on_services: Platform) -> None:
    """NUL bytes, encoded slashes and dots, overlong numbers in every path parameter of the
    API, under /media and in the pages' ?id=: a 4xx, never a 500 or a traceback."""
    web = on_services.start_web()
    api = Api(on_services.base_url)
    document = requests.get(f"{api.base}/openapi.json", timeout=10).json()
    templates = [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if "{" in path and method in ("get", "delete", "put", "post", "patch")
    ]
    templates += [("GET", "/media/{key}"), ("GET", "/media/videos/{key}/master.m3u8")]
    assert ("GET", "/api/v1/content/{content_id}/video") in templates

    @settings(
        max_examples=4 * len(templates),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(template=st.sampled_from(templates), segment=hostile_segments)
    def hostile(template: tuple[str, str], segment: str) -> None:
        method, path = template
        url = on_services.base_url + re.sub(r"\{[^}]+\}", segment, path)
        answer = api.http.request(method, url, timeout=30, allow_redirects=False)
        assert answer.status_code < 500, (method, url[:120], answer.text[:300])
        for page in ("/content", "/video"):
            shown = api.http.get(f"{on_services.base_url}{page}?id={segment}", timeout=30)
            assert shown.status_code < 500, (page, segment[:80], shown.text[:300])

    for segment in ("%00", "a%00b", "9" * 5000):  # the reported shapes, whatever hypothesis draws
        for method, path in templates:
            url = on_services.base_url + re.sub(r"\{[^}]+\}", segment, path)
            answer = api.http.request(method, url, timeout=30, allow_redirects=False)
            assert answer.status_code < 500, (method, url[:120], answer.text[:300])
    hostile()
    log = web.log.read_text(errors="replace")
    assert "Traceback" not in log and "unhandled error" not in log, web.tail(80)
