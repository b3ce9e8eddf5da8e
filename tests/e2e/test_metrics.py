"""Real gunicorn (two worker processes) on the services: /metrics totals are the same
whichever worker answers, and the access log is JSON lines with the request id."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from prometheus_client.parser import text_string_to_metric_families

from db import beat_heartbeat
from tests import services
from tests.e2e.processes import Api, Platform
from tests.services import wait_for

PASSWORD = "correct horse battery staple"
ROUTE = "/api/v1/content"


def request_count(base_url: str, route: str) -> float:
    """The request histogram's count for `route`, over every method and status."""
    text = requests.get(f"{base_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "cbrtl_http_request_duration_seconds_count"
        and sample.labels["route"] == route
    )


def workers_that_served(data_dir: Path) -> set[str]:
    """The pids with a histogram file in gunicorn's metrics folder."""
    files = data_dir.glob("metrics/gunicorn-*/histogram_*.db")
    return {path.stem.rsplit("_", 1)[-1] for path in files}


def json_lines(log: Path) -> list[dict[str, Any]]:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    return parsed


def test_metrics_add_up_across_workers_and_the_access_log_is_json(
    on_services: Platform,
) -> None:
    on_services.env["CBRTL_WEB_WORKERS"] = "2"
    on_services.cbrtl(
        "users", "create", "--email", "ops@example.org", "--password", PASSWORD, "--role", "ops"
    )
    web = on_services.start_web()
    base = on_services.base_url
    data_dir = Path(on_services.env["CBRTL_DATA_DIR"])
    sent = 0

    def hit(n: int) -> int:
        # A new connection each time, so either worker may accept it.
        response = requests.get(
            f"{base}{ROUTE}", headers={"X-Request-ID": f"e2e-metrics-{n}"}, timeout=10
        )
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == f"e2e-metrics-{n}"
        return 1

    # Until both workers have served some (bounded): then the total proves the sum.
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(20):
            sent += sum(pool.map(hit, range(sent, sent + 25)))
            if len(workers_that_served(data_dir)) >= 2:
                break
    assert len(workers_that_served(data_dir)) >= 2, "one worker took every request"

    for _ in range(8):  # each scrape may land on either worker
        assert request_count(base, ROUTE) == sent

    # Jobs and queues come from the database and the broker, whoever answers.
    text = requests.get(f"{base}/metrics", timeout=10).text
    for name in ("cbrtl_jobs_dead", "cbrtl_outbox_lag_seconds", "cbrtl_queue_depth"):
        assert f"\n{name}" in text
    assert 'cbrtl_scrape_errors{source="database"} 0.0' in text

    # An authenticated call: its token must not reach the log.
    api = Api(base)
    token = api.token("ops@example.org", PASSWORD)
    overview = api.call("GET", "/admin/operations", token, headers={"X-Request-ID": "ops-1"})
    assert overview.status_code == 200
    assert overview.json()["jobs"] == {"queued": 0, "running": 0, "failed": 0, "dead": 0}

    def access_lines() -> list[dict[str, Any]]:
        return [line for line in json_lines(web.log) if line["logger"] == "gunicorn.access"]

    wait_for(
        lambda: any(line.get("request_id") == "ops-1" for line in access_lines()),
        timeout=10,
        what="the access line of the last call",
    )
    lines = access_lines()
    ours = [line for line in lines if str(line.get("request_id", "")).startswith("e2e-metrics-")]
    assert len(ours) == sent
    line = ours[0]
    assert line["method"] == "GET" and line["path"] == ROUTE and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["level"] == "INFO"
    generated = [line for line in lines if line["path"] == "/readyz"]
    assert generated and all(len(line["request_id"]) == 32 for line in generated)
    everything = web.log.read_text()
    assert token not in everything and PASSWORD not in everything
    assert "Authorization" not in everything


def test_beat_heartbeat_reaches_operations(on_services: Platform) -> None:
    loads = subprocess.run(
        [sys.executable, "-c", "import sys, workers.celery_app; print(sorted(sys.modules))"],
        env=on_services.env,
        cwd=on_services.workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loads.returncode == 0, loads.stderr
    if "'workers.observability'" not in loads.stdout:
        pytest.skip("workers/celery_app.py does not import workers.observability yet")
    on_services.cbrtl(
        "users", "create", "--email", "ops@example.org", "--password", PASSWORD, "--role", "ops"
    )
    on_services.start_web()
    beat = on_services.start_beat()
    cache = redis.Redis.from_url(services.REDIS_URL, decode_responses=True)
    try:
        wait_for(lambda: beat_heartbeat.last_tick(cache), timeout=60, what=f"a tick\n{beat.tail()}")
    finally:
        cache.close()
    api = Api(on_services.base_url)
    token = api.token("ops@example.org", PASSWORD)
    state = api.call("GET", "/admin/operations", token).json()["beat"]
    assert state["last_tick_at"] is not None and 0 <= state["age_s"] < 30
    scrape = requests.get(f"{on_services.base_url}/metrics", timeout=10).text
    assert "\ncbrtl_beat_last_tick_seconds " in scrape

    # Celery prints a plain-text banner first (`celery --quiet` leaves it out); then JSON.
    def relay_sent() -> bool:
        logged = [line for line in beat.log.read_text().splitlines() if line.startswith("{")]
        return any("outbox-relay" in json.loads(line)["message"] for line in logged)

    wait_for(relay_sent, timeout=30, what=f"beat's JSON line for the relay\n{beat.tail()}")
