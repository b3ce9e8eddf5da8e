"""`cbrtl transcode add` and `enqueue` as real processes, on PostgreSQL and S3 (moto)."""

from __future__ import annotations

from pathlib import Path

import boto3
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import Content, Job, Video
from db.settings import Settings
from tests.factories import mp4_bytes
from tests.services import cbrtl


def test_add_stores_the_file_and_queues_its_transcode(
    settings: Settings, pg_engine, tmp_path: Path
) -> None:
    env = {
        "CBRTL_DATABASE_URL": settings.resolved_database_url,
        "CBRTL_DATA_DIR": str(tmp_path),
        "CBRTL_STORAGE_URL": settings.resolved_storage_url,
        "CBRTL_S3_ENDPOINT_URL": str(settings.s3_endpoint_url),
        "CBRTL_BROKER_URL": settings.resolved_broker_url,
    }
    clip = tmp_path / "film.mp4"
    clip.write_bytes(mp4_bytes(4096))
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n")
    created: list[int] = []
    try:
        added = cbrtl("transcode", "add", str(clip), "--title", "A film", "--genre", "Drama", **env)
        assert added.returncode == 0, added.stderr
        content_id, job_id = int(added.stdout.split()[1].rstrip(":")), int(added.stdout.split()[4])
        created.append(content_id)
        with Session(pg_engine) as session:
            video = session.get(Video, content_id)
            job = session.get(Job, job_id)
            assert video is not None and job is not None
            assert (job.type, job.queue, job.status) == ("media.transcode", "media", "queued")
            assert video.job_id == job_id and video.source_bytes == 4096
            source_key = video.source_key
        bucket, prefix = settings.resolved_storage_url.removeprefix("s3://").split("/", 1)
        s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
        stored = s3.get_object(Bucket=bucket, Key=f"{prefix}/{source_key}")["Body"].read()
        assert stored == clip.read_bytes()

        # Queued already: enqueue gives the same job back rather than a second transcode.
        again = cbrtl("transcode", "enqueue", "--content-id", str(content_id), **env)
        assert again.returncode == 0 and f"job {job_id} queued" in again.stdout
        with Session(pg_engine) as session:
            session.get(Job, job_id).status = "dead"
            session.commit()
        pending = cbrtl("transcode", "enqueue", "--all-pending", **env)
        assert pending.returncode == 0 and f"content {content_id}: transcode job" in pending.stdout
        assert f"job {job_id} " not in pending.stdout

        rejected = cbrtl("transcode", "add", str(notes), "--title", "Notes", **env)
        assert rejected.returncode == 1
        assert rejected.stderr.startswith("cbrtl: notes.mp4 is not a video file.")
        with Session(pg_engine) as session:
            assert session.scalar(select(Content.id).where(Content.title == "Notes")) is None
        neither = cbrtl("transcode", "enqueue", **env)
        assert neither.returncode == 2 and "exactly one of" in neither.stderr
        no_source = cbrtl("transcode", "enqueue", "--content-id", "987654321", **env)
        assert no_source.returncode == 1 and "No content 987654321" in no_source.stderr
    finally:
        with Session(pg_engine) as session:
            session.execute(delete(Content).where(Content.id.in_(created)))
            session.execute(delete(Job).where(Job.type == "media.transcode"))
            session.commit()
