"""A deleted title's stored files: every object under its folders, removed after the
delete's commit (db/services/content.py queues the job with the delete).

Idempotent: a second run lists nothing and deletes nothing. A storage error is an
ordinary exception, which the job runner retries with a backoff. Nothing waits for it
to be served no more: the web stopped serving the title's files at the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from db.models import Content
from tasks.context import storage
from tasks.job_runner import job_task


def title_folders(content_id: int) -> list[str]:
    """Where a title's files live: HLS sets, posters and thumbnails (tasks/media.py),
    sources and unfinished uploads (db/services/uploads.py, videos.py)."""
    return [f"videos/{content_id}", f"sources/{content_id}"]


@job_task("media.purge_title", soft_time_limit=240, time_limit=300)
def purge_title(session: Session, args: dict[str, Any]) -> dict[str, Any]:
    content_id = int(args["content_id"])
    if session.get(Content, content_id) is not None:
        # SQLite can give a deleted title's id to the next one: those files are its.
        return {"removed": 0, "skipped": f"content {content_id} exists again"}
    store = storage()
    return {"removed": sum(store.delete_prefix(folder) for folder in title_folders(content_id))}
