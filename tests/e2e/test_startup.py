"""A bad setting stops each process at start with one line naming the variable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.processes import clean_env
from tests.services import VENV_BIN

COMMANDS = {
    "web": [
        str(VENV_BIN / "gunicorn"),
        "--config",
        "python:web.gunicorn_conf",
        "web.app:create_app()",
    ],
    "worker": [str(VENV_BIN / "celery"), "--app", "workers.celery_app", "worker"],
    "beat": [str(VENV_BIN / "celery"), "--app", "workers.celery_app", "beat"],
    "cli": [str(VENV_BIN / "cbrtl"), "db", "upgrade"],
}


@pytest.mark.parametrize("process", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("name", "value"), [("CBRTL_REDIS_URL", "http://cache"), ("PORT", "not-a-port")]
)
def test_bad_setting_stops_the_process(process: str, name: str, value: str, tmp_path: Path) -> None:
    done = subprocess.run(
        COMMANDS[process],
        env=clean_env(CBRTL_DATA_DIR=str(tmp_path), **{name: value}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "configuration error" in line]
    assert len(lines) == 1 and lines[0].startswith(f"cbrtl: configuration error: {name}: ")
    assert "Traceback" not in done.stderr + done.stdout
