"""gunicorn's access log format and the metrics folder its master manages."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from web import metrics_folder
from web.gunicorn_logging import GunicornLogger

ENVIRON = {
    "REQUEST_METHOD": "GET",
    "PATH_INFO": "/api/v1/content",
    "QUERY_STRING": "q=secret-search",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_AUTHORIZATION": "Bearer abc.def.ghi",
    "HTTP_COOKIE": "access_token_cookie=xyz",
}


@pytest.fixture(autouse=True)
def _drop_gunicorn_handlers() -> Iterator[None]:
    """gunicorn's logger binds handlers to this test's captured streams: drop them after."""
    yield
    for name in ("gunicorn.error", "gunicorn.access"):
        log = logging.getLogger(name)
        for handler in list(log.handlers):
            log.removeHandler(handler)


def access_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], log_format: str
) -> str:
    monkeypatch.setenv("CBRTL_LOG_FORMAT", log_format)
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = GunicornLogger(cfg)
    response = SimpleNamespace(
        status="201 CREATED", headers=[("X-Request-ID", "req-3"), ("Set-Cookie", "s=1")], sent=17
    )
    logger.access(response, None, ENVIRON, timedelta(milliseconds=12, microseconds=340))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_the_access_line_in_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = json.loads(access_line(monkeypatch, capsys, "json"))
    assert line["logger"] == "gunicorn.access"
    assert line["message"] == "GET /api/v1/content 201 12.3 ms"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/content", 201)
    assert line["duration_ms"] == 12.34 and line["bytes"] == 17
    assert line["request_id"] == "req-3"
    text = json.dumps(line)
    for secret in ("abc.def.ghi", "xyz", "secret-search", "s=1"):
        assert secret not in text


def test_the_access_line_in_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = access_line(monkeypatch, capsys, "text")
    assert "INFO gunicorn.access: GET /api/v1/content 201 12.3 ms [request_id=req-3" in line


def test_the_metrics_folder_is_per_master_and_starts_empty(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(metrics_folder.ENV, "unset after the test")
    folder = metrics_folder.use(tmp_path, 4242)
    assert folder == tmp_path.resolve() / "metrics" / "gunicorn-4242"
    assert os.environ[metrics_folder.ENV] == str(folder)
    folder.mkdir(parents=True)
    (folder / "histogram_1.db").write_bytes(b"old")
    gone = folder.parent / "gunicorn-99999999"  # no such process
    alive = folder.parent / f"gunicorn-{os.getpid()}"
    gone.mkdir()
    alive.mkdir()

    metrics_folder.reset(folder)
    assert folder.is_dir() and not any(folder.iterdir())
    assert not gone.exists() and alive.exists()
    metrics_folder.remove(folder)
    assert not folder.exists()
