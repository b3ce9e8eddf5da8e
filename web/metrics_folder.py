"""The folder gunicorn's processes share their metrics through (multiprocess mode).

One fresh folder per gunicorn master under $CBRTL_DATA_DIR/metrics: a restarted
master does not add to a dead one's counts, and two masters on one data folder do
not mix. PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is first
imported in the master (workers fork from it), so this module does not import it
at load time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def use(data_dir: Path, pid: int) -> Path:
    """Point prometheus_client (in this process and its children) at master `pid`'s folder."""
    folder = data_dir.resolve() / "metrics" / f"gunicorn-{pid}"
    os.environ[ENV] = str(folder)
    return folder


def reset(folder: Path) -> None:
    """Empty `folder` and remove the folders of masters that are gone."""
    for sibling in folder.parent.glob("gunicorn-*") if folder.parent.exists() else ():
        pid = sibling.name.removeprefix("gunicorn-")
        if sibling != folder and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(sibling, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def process_dead(folder: Path, pid: int) -> None:
    """A worker exited: drop its live-gauge files (its counters and histograms stay)."""
    # Imported here, not at the top: by now PROMETHEUS_MULTIPROC_DIR is set.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(folder))


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
