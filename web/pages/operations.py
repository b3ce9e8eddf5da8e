"""The jobs board for operators: static/js/jobs.js keeps it live from /api/v1/jobs."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from db.job_types import JOB_TYPES
from db.models import JOB_STATUSES
from web.pages.viewer import signed_in

blp = Blueprint("operations_pages", __name__)


@blp.get("/admin/jobs")
@signed_in("ops")
def jobs_board() -> str:
    status = request.args.get("status", "")
    return render_template(
        "jobs.html",
        title="Jobs",
        statuses=JOB_STATUSES,
        status=status if status in JOB_STATUSES else "",
        job_types=sorted(JOB_TYPES),
    )
