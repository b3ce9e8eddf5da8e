"""Which Chromium the browser tests and the page-weight benchmark drive, and how."""

from __future__ import annotations

import os
from pathlib import Path

# Debian's package: Playwright never downloads a browser here.
CHROMIUM = Path(os.environ.get("CBRTL_CHROMIUM", "/usr/bin/chromium"))
# As the machine's own probe ran it: no sandbox as root, no calls home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
