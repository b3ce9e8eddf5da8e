"""The Procfile's Flower listens on CBRTL_FLOWER_PORT, and says in one line when it cannot.

Flower that cannot bind used to die with a traceback, which made honcho stop every
process of a second `make run` on the same machine.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
from pathlib import Path

import requests

from tests.e2e.processes import Process, clean_env
from tests.services import VENV_BIN, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


def procfile_command(name: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            return shlex.split(command)
    raise AssertionError(f"no {name} in the Procfile")


def start_flower(
    tmp_path: Path, port: int, argv: list[str] | None = None
) -> subprocess.Popen[bytes]:
    env = clean_env(
        CBRTL_DATA_DIR=str(tmp_path),
        CBRTL_FLOWER_PORT=str(port),
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
    )
    with (tmp_path / "flower.log").open("wb") as log:
        return subprocess.Popen(
            argv or procfile_command("flower"),
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_flower_listens_on_its_configured_port(tmp_path: Path) -> None:
    port = free_port()
    popen = start_flower(tmp_path, port)
    flower = Process("flower", popen, tmp_path / "flower.log")
    try:
        wait_for(
            lambda: requests.get(f"http://127.0.0.1:{port}/healthcheck", timeout=2).ok,
            timeout=60,
            what=f"flower on {port}\n{flower.tail()}",
        )
    finally:
        flower.kill()


def test_a_taken_port_is_one_line_and_the_platform_keeps_running(tmp_path: Path) -> None:
    """The Procfile's Flower on a taken port says why in one line and stays up (honcho
    would stop every process of the platform if it exited), until it is stopped."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        popen = start_flower(tmp_path, port)
        flower = Process("flower", popen, tmp_path / "flower.log")
        try:
            wait_for(lambda: flower.log.read_text().strip(), timeout=60, what="flower's line")
            assert popen.poll() is None, flower.tail()
            popen.send_signal(signal.SIGTERM)
            assert popen.wait(timeout=30) == 0
        finally:
            flower.kill()
    assert flower.log.read_text().strip().splitlines() == [
        f"cbrtl: running without Flower: 127.0.0.1:{port}: Address already in use "
        "(set CBRTL_FLOWER_PORT to a free port)"
    ]


def test_without_optional_a_taken_port_exits_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        popen = start_flower(tmp_path, port, [str(VENV_BIN / "cbrtl"), "flower"])
        try:
            code = popen.wait(timeout=60)
        finally:
            Process("flower", popen, tmp_path / "flower.log").kill()
    assert code == 1
    assert (tmp_path / "flower.log").read_text().strip().splitlines() == [
        f"cbrtl: flower cannot start: 127.0.0.1:{port}: Address already in use "
        "(set CBRTL_FLOWER_PORT to a free port)"
    ]
