"""gunicorn's logger in the platform's format: its own lines and the access log.

Access lines carry method, path (never the query string, which may hold a signed
URL), status, duration_ms, bytes and the request id the app echoed; no request
header is logged, so no Authorization or Cookie value can be.
"""

from __future__ import annotations

import datetime as dt
import traceback
from typing import Any

from gunicorn.config import Config
from gunicorn.glogging import Logger

from db.log_setup import make_formatter
from db.settings import load_settings


class GunicornLogger(Logger):
    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        formatter = make_formatter(load_settings().log_format)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if getattr(handler, "_gunicorn", False):  # its own, not someone else's
                    handler.setFormatter(formatter)

    def access(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: dt.timedelta
    ) -> None:
        if not self.cfg.accesslog:
            return
        try:
            status = resp.status
            status_code = int(status.split(None, 1)[0] if isinstance(status, str) else status)
            headers = {str(k).lower(): v for k, v in resp.headers}
            fields = {
                "method": environ.get("REQUEST_METHOD", "-"),
                "path": environ.get("PATH_INFO", "-"),
                "status": status_code,
                "duration_ms": round(request_time.total_seconds() * 1000, 2),
                "bytes": getattr(resp, "sent", None),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "request_id": headers.get("x-request-id"),
            }
            self.access_log.info(
                "%s %s %s %.1f ms",
                fields["method"],
                fields["path"],
                status_code,
                fields["duration_ms"],
                extra=fields,
            )
        except Exception:
            self.error(traceback.format_exc())
