"""A redelivered transcode never deletes the set viewers play: the switch to the new set
commits with the job's success, and a rerun that finds its prefix live leaves it alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from db.models import Job, Video
from db.models.base import utcnow
from db.services import jobs, videos
from db.storage.protocol import FileToPut
from tests.factories import make_content, make_user
from tests.integration.task_env import (  # noqa: F401 - fixtures
    TaskEnv,
    before_first,
    deliver,
    scratch_engine,
    tasks_on,
)
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


def prefix_of(env: TaskEnv, job_id: int) -> str:
    """Where the transcode job writes its set (its random set id included)."""
    with env.factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return videos.output_prefix(
            content_id=job.args["content_id"], job_id=job_id, set_id=job.args["set_id"]
        )


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
    prefix = prefix_of(env, job_id)
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
    prefix = prefix_of(env, job_id)
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


def test_a_newer_upload_wins_over_a_switch_on_sqlite(sqlite_engine: Engine) -> None:
    """SQLite ignores FOR UPDATE. The transcode reads the row (its job is current); before
    its write a newer upload commits; the switch must then not land on the row."""
    with Session(sqlite_engine, expire_on_commit=False) as session:
        content_id = make_content(session, owner=make_user(session, roles=("creator",))).id
        old_job = videos.queue_transcode(
            session=session, content_id=content_id, source_key="sources/a", source_bytes=1
        )
        session.commit()
    prefix = f"videos/{content_id}/j{old_job.id}"
    published = videos.PublishedSet(
        prefix=prefix,
        master_key=f"{prefix}/master.m3u8",
        poster_key=f"{prefix}/poster.jpg",
        thumbnail_keys=[],
        renditions=[],
        width=320,
        height=180,
        duration_s=2.0,
    )

    def newer_upload() -> None:
        with Session(sqlite_engine) as session:
            videos.queue_transcode(
                session=session, content_id=content_id, source_key="sources/b", source_bytes=1
            )
            session.commit()

    interleaved = before_first(sqlite_engine, "UPDATE videos", newer_upload)
    with Session(sqlite_engine) as session:
        unused = videos.publish(
            session=session, content_id=content_id, job_id=old_job.id, published=published
        )
        session.commit()
    assert interleaved
    assert unused == prefix  # superseded: its own set is the one to delete
    with Session(sqlite_engine) as session:
        video = session.get(Video, content_id)
        assert video is not None
        assert (video.output_prefix, video.status, video.source_key) == (
            None,
            "queued",
            "sources/b",
        )


def test_each_transcode_writes_under_an_unguessable_prefix(
    tasks_on: TaskEnv,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The bucket and the edge serve videos/* publicly: a set must not be fetchable at a
    URL one can work out from the title and job ids before it is published."""
    env = tasks_on
    content_id, first = title_with_source(env, tmp_path)
    with env.factory() as session:
        second = videos.queue_transcode(
            session=session, content_id=content_id, source_key=f"sources/{content_id}/source"
        ).id
        session.commit()
    prefixes = [prefix_of(env, first), prefix_of(env, second)]
    for job_id, prefix in zip((first, second), prefixes, strict=True):
        assert re.fullmatch(rf"videos/{content_id}/j{job_id}-[0-9a-f]{{16}}", prefix), prefix
    assert prefixes[0].rsplit("-", 1)[1] != prefixes[1].rsplit("-", 1)[1]

    deliver(TASK, second)
    assert state(env, content_id, second) == (prefixes[1], "succeeded", 1)
    assert f"{prefixes[1]}/master.m3u8" in env.storage.list_keys(prefixes[1])
    assert env.storage.list_keys(f"videos/{content_id}/j{second}/") == []
