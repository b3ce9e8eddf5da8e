"""Which process runs a job, and whether it still can.

A claim records its claimant ("host:pid") and a heartbeat that the claimant's process
refreshes every HEARTBEAT_S. The claimant is gone when its heartbeat has been silent
for SILENT_S (any host), or at once when it was a process on this host that exited:
the same answer on every broker, whether or not it marks a redelivery.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from functools import cache

HEARTBEAT_S = 5.0
# Six missed beats: longer than any pause a live worker takes (a GC, a busy database).
SILENT_S = 30.0


@cache
def _host() -> str:
    # Containers sharing the host's name (host networking) still number pids apart.
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}/{namespace.removeprefix('pid:[').removesuffix(']')}"


def this_process() -> str:
    return f"{_host()}:{os.getpid()}"


def is_gone(claimed_by: str | None, heartbeat_at: datetime | None, now: datetime) -> bool:
    """True when the claimant can no longer be running its attempt."""
    if heartbeat_at is None or now - heartbeat_at > timedelta(seconds=SILENT_S):
        return True
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != _host() or not pid.isdigit():
        return False  # elsewhere, and beating recently: alive as far as anyone can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: it exists
        return False
    return False
