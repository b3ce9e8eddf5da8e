"""docker/nginx.conf run by Debian's nginx on loopback, for the deployment tests.

Only the lines marked `# deploy:` change (addresses, ports, paths, user); everything
else (balancing, retries, the HLS cache) is the file compose ships.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from socket import create_connection

from tests.services import free_port, wait_for

CONF = Path(__file__).resolve().parents[2] / "docker" / "nginx.conf"
PUBLIC_HOST = "127.0.0.1"


def nginx_binary() -> str:
    # Debian puts it in /usr/sbin, which is not on every user's PATH.
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    assert found, "nginx is not installed (make test installs Debian's nginx)"
    return found


@dataclass(frozen=True)
class Loopback:
    """Where the rendered config puts things."""

    folder: Path
    web_ports: tuple[int, ...]
    origin: str  # host:port of the S3 origin
    bucket_prefix: str  # "/bucket/prefix/"
    port: int
    status_port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def render(where: Loopback) -> str:
    """docker/nginx.conf with each `# deploy:` line pointed at loopback and `where`."""
    first, *others = where.web_ports
    replicas = "".join(
        f" max_fails=3 fail_timeout=10s;\n        server 127.0.0.1:{p}" for p in others
    )
    user = "user root;" if os.geteuid() == 0 else ""
    swaps = {
        "user nginx;": user,
        "/var/run/nginx.pid": str(where.folder / "nginx.pid"),
        "/var/cache/nginx/hls": str(where.folder / "hls"),
        "server web:8000": f"server 127.0.0.1:{first}{replicas}",
        "minio:9000/cbrtl/media/": f"{where.origin}{where.bucket_prefix}",
        "listen 80;": f"listen 127.0.0.1:{where.port};",
        "listen 80 default_server;": f"listen 127.0.0.1:{where.port} default_server;",
        # What compose's envsubst puts there: the host of CBRTL_PUBLIC_URL.
        "${CBRTL_PUBLIC_HOST}": PUBLIC_HOST,
        "listen 8081;": f"listen 127.0.0.1:{where.status_port};",
    }
    lines = CONF.read_text().splitlines()
    used: set[str] = set()
    for i, line in enumerate(lines):
        if "# deploy:" not in line:
            continue
        hits = [old for old in swaps if old in line]
        assert len(hits) == 1, f"no single swap for marked line: {line.strip()}"
        lines[i] = line.replace(hits[0], swaps[hits[0]])
        used.add(hits[0])
    assert used == set(swaps), f"marked lines missing from {CONF}: {set(swaps) - used}"
    return "\n".join(lines) + "\n"


def write_conf(where: Loopback) -> Path:
    path = where.folder / "nginx.conf"
    path.write_text(render(where))
    return path


def check(conf: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the file; the error log goes to stderr, not /var/log."""
    return subprocess.run(
        [nginx_binary(), "-t", "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )


@contextmanager
def running(where: Loopback) -> Iterator[Path]:
    """nginx in the foreground with the rendered config; yields its log file."""
    conf = write_conf(where)
    log = where.folder / "nginx.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [nginx_binary(), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def listening() -> bool:
        assert process.poll() is None, log.read_text()
        with closing(create_connection(("127.0.0.1", where.port), timeout=0.5)):
            return True

    try:
        wait_for(listening, timeout=20, what="nginx listening")
        yield log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def loopback(
    folder: Path, *, web_ports: tuple[int, ...], origin: str, bucket_prefix: str
) -> Loopback:
    return Loopback(
        folder=folder,
        web_ports=web_ports,
        origin=origin,
        bucket_prefix=bucket_prefix,
        port=free_port(),
        status_port=free_port(),
    )
