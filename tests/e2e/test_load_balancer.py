"""docker/nginx.conf in front of two real gunicorns: it spreads requests and fails over."""

from __future__ import annotations

import re
import signal
from collections import Counter
from pathlib import Path

import requests

from tests.deploy import nginx
from tests.e2e.processes import Platform
from tests.services import free_port


def _upstreams(log: Path) -> list[str]:
    """The replica(s) each proxied request went to, in order (`a, b` after a retry)."""
    return re.findall(r"upstream=(\S+(?:, \S+)*) upstream_time", log.read_text())


def test_nginx_balances_two_replicas_and_fails_over(on_services: Platform) -> None:
    ports = (free_port(), free_port())
    webs = [on_services.start_web(port=p) for p in ports]
    where = nginx.loopback(
        on_services.workdir / "nginx",
        web_ports=ports,
        origin="127.0.0.1:9",  # no HLS in this test
        bucket_prefix="/cbrtl/media/",
    )
    where.folder.mkdir()
    with nginx.running(where) as log:
        api = f"{where.base_url}/api/v1"
        for _ in range(40):
            assert requests.get(f"{api}/content", timeout=10).status_code == 200
        served = Counter(_upstreams(log))
        assert set(served) == {f"127.0.0.1:{p}" for p in ports}, served
        assert min(served.values()) >= 10, served  # both replicas carry real load

        # The client's request id goes through nginx to the app and back.
        mine = requests.get(f"{api}/content", headers={"X-Request-ID": "lb-check-1"}, timeout=10)
        assert mine.headers["X-Request-ID"] == "lb-check-1"
        theirs = requests.get(f"{api}/content", timeout=10)
        assert re.fullmatch(r"[0-9a-f]{32}", theirs.headers["X-Request-ID"])

        webs[0].kill(signal.SIGKILL)
        before = len(_upstreams(log))
        statuses = [requests.get(f"{api}/content", timeout=10).status_code for _ in range(30)]
        # A POST that never reached the dead replica is passed on too: a wrong password
        # is answered 401 by the live one, never 502 by nginx.
        login = requests.post(
            f"{api}/auth/login",
            json={"email": "nobody@example.com", "password": "wrong-pass"},
            timeout=10,
        )
        assert statuses == [200] * 30
        assert login.status_code == 401, login.text
        after = _upstreams(log)[before:]
        assert all(u.endswith(f"127.0.0.1:{ports[1]}") for u in after), after
