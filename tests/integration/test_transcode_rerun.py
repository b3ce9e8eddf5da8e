"""A redelivered transcode never deletes the set viewers play: the switch to the new set
commits with the job's success, and a rerun that finds its prefix live leaves it alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from db.models import Job, Video
from db.models.base import utcnow
from db.services import jobs, videos
from db.storage.protocol import FileToPut
from tests.factories import make_content, make_user
from tests.integration.task_env import TaskEnv, deliver, scratch_engine, tasks_on  # noqa: F401
from workers.media.samples import make_sample_clip

TASK = "cbrtl.media.transcode"


def title_with_source(env: TaskEnv, tmp_path: Path) -> tuple[int, int]:
    """A title whose source is uploaded and whose transcode is queued: (content, job)."""
    clip = make_sample_clip(
        tmp_path / "source.mp4", seconds=2, size="320x180", audio=False, preset="ultrafast"
    )
    with env.factory() as session:
        content_id = make_content(session, owner=make_user(session, roles=("creator",))).id
        key = f"sources/{content_id}/source"
        env.storage.inner.put_files([FileToPut(key=key, path=clip, content_type="video/mp4")])
        job = videos.queue_transcode(
            session=session, content_id=content_id, source_key=key, source_bytes=1
        )
        session.commit()
        return content_id, job.id


def state(env: TaskEnv, content_id: int, job_id: int) -> tuple[str | None, str, int]:
    with env.factory() as session:
        video, job = session.get(Video, content_id), session.get(Job, job_id)
        assert video is not None and job is not None
        return video.output_prefix, job.status, job.attempts


def test_a_rerun_that_finds_its_prefix_live_leaves_storage_alone(
    tasks_on: TaskEnv,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    env = tasks_on
    content_id, job_id = title_with_source(env, tmp_path)
    prefix = f"videos/{content_id}/j{job_id}"
    # The first attempt switched the title to its set, then its worker died.
    for name in ("master.m3u8", "360p/playlist.m3u8", "poster.jpg"):
        env.storage.put_bytes(f"{prefix}/{name}", b"live", content_type="text/plain")
    with env.factory() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status="running", attempts=1, started_at=utcnow())
        )
        session.execute(
            update(Video)
            .where(Video.content_id == content_id)
            .values(
                output_prefix=prefix,
                master_key=f"{prefix}/master.m3u8",
                renditions=[{"name": "360p", "width": 320, "height": 180, "bitrate": 1}],
                status="ready",
            )
        )
        session.commit()
    live = sorted(env.storage.list_keys(prefix))
    env.storage.calls.clear()

    deliver(TASK, job_id, redelivered=True)

    assert env.storage.calls == []  # nothing downloaded, cleared or uploaded
    assert sorted(env.storage.list_keys(prefix)) == live
    assert state(env, content_id, job_id) == (prefix, "succeeded", 2)
    with env.factory() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.result is not None
        assert (job.result["prefix"], job.result["renditions"]) == (prefix, ["360p"])


def test_the_switch_and_the_success_commit_together(
    tasks_on: TaskEnv,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = tasks_on
    content_id, job_id = title_with_source(env, tmp_path)
    prefix = f"videos/{content_id}/j{job_id}"
    succeed = jobs.succeed
    died: list[bool] = []

    def worker_dies_once(**kwargs: Any) -> bool:
        if not died:
            died.append(True)
            raise SystemExit("the worker died while recording the success")
        return succeed(**kwargs)

    monkeypatch.setattr(jobs, "succeed", worker_dies_once)

    with pytest.raises(SystemExit):
        deliver(TASK, job_id)

    # Not switched while the job is unfinished: its rerun may clear the prefix.
    assert state(env, content_id, job_id) == (None, "running", 1)
    deliver(TASK, job_id, redelivered=True)
    assert state(env, content_id, job_id) == (prefix, "succeeded", 2)
    assert f"{prefix}/master.m3u8" in env.storage.list_keys(prefix)
