"""Jobs for operators (ops or admin)."""

from __future__ import annotations

from typing import Any

from db.models import Job
from db.services import jobs
from web.auth.roles import require_roles
from web.blueprint import Blueprint
from web.jobs.schemas import JobEnvelope, JobFilter, JobOut
from web.pagination import page_document, page_schema
from web.runtime import db_session

blp = Blueprint("jobs", __name__, description="Jobs and operations")


@blp.get("/jobs")
@blp.arguments(JobFilter(), location="query")
@blp.response(200, page_schema(JobOut, "JobPage"))
@require_roles("ops")
def list_jobs(args: dict[str, Any]) -> dict[str, Any]:
    page, per_page = args.pop("page"), args.pop("per_page")
    items, total = jobs.list_jobs(session=db_session(), page=page, per_page=per_page, **args)
    return page_document(items, page=page, per_page=per_page, total=total)


@blp.get("/jobs/<id:job_id>")
@blp.response(200, JobOut)
@require_roles("ops")
def get_job(job_id: int) -> Job:
    return jobs.get_job(session=db_session(), job_id=job_id)


@blp.post("/jobs/<id:job_id>/retry")
@blp.response(202, JobEnvelope)
@blp.alt_response(409, description="Only failed or dead jobs can be retried")
@require_roles("ops")
def retry_job(job_id: int) -> dict[str, Job]:
    session = db_session()
    job = jobs.retry(session=session, job_id=job_id)
    session.commit()
    return {"job": job}


@blp.post("/jobs/<id:job_id>/cancel")
@blp.response(202, JobEnvelope)
@blp.alt_response(409, description="Only queued or running jobs can be cancelled")
@require_roles("ops")
def cancel_job(job_id: int) -> dict[str, Job]:
    """Queued: it will not run. Running: it stops at its next progress report."""
    session = db_session()
    job = jobs.cancel(session=session, job_id=job_id)
    session.commit()
    return {"job": job}
