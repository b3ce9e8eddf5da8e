"""Unfinished uploads past their deadline: free their stored parts (beat enqueues it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.models.base import utcnow
from db.services import uploads
from tasks.context import storage
from tasks.job_runner import job_task


@job_task("media.expire_uploads", soft_time_limit=240, time_limit=300)
def expire_uploads(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    return {"expired": uploads.expire(session=session, storage=storage(), now=utcnow())}
