"""Factories for test data, built through the services so invariants hold."""

from __future__ import annotations

import itertools
import os

from sqlalchemy.orm import Session

from db.models import Content, RecModel, User, Video
from db.services import content as catalogue
from db.services import recommender, users, videos

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_user(session: Session, *, roles: tuple[str, ...] = (), email: str | None = None) -> User:
    n = next(_seq)
    return users.create_user(
        session=session,
        email=email or f"user{n}@example.org",
        password=PASSWORD,
        display_name=f"User {n}",
        roles=roles,
    )


def make_content(session: Session, *, owner: User | None = None, **fields: object) -> Content:
    n = next(_seq)
    values: dict[str, object] = {"title": f"Title {n}", "genres": ["Drama"], **fields}
    return catalogue.create_content(
        session=session,
        owner_id=owner.id if owner else None,
        **values,
    )


def make_published_video(
    session: Session, content: Content, *, job_id: int = 1, set_id: str | None = None
) -> Video:
    """The video row of a title whose transcode `job_id` is live (as tasks/media.py
    switches to it): its set is under videos/<id>/j<job_id>[-<set_id>]; storing files is
    the test's."""
    prefix = videos.output_prefix(content_id=content.id, job_id=job_id, set_id=set_id)
    video = Video(
        content_id=content.id,
        status="ready",
        output_prefix=prefix,
        master_key=f"{prefix}/master.m3u8",
        poster_key=f"{prefix}/poster.jpg",
        thumbnail_keys=[f"{prefix}/thumbs/t_0001.jpg"],
        renditions=[],
    )
    session.add(video)
    session.flush()
    return video


# The start of an MP4 file: enough for the upload's type sniffing, not a playable video.
MP4_HEAD = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"


def mp4_bytes(size: int) -> bytes:
    """`size` bytes that sniff as MP4 (random after the header)."""
    return MP4_HEAD + os.urandom(size - len(MP4_HEAD))


def make_live_model(session: Session, *, purpose: str = "ranking") -> RecModel:
    """An active model version with no artifact behind it: enough for code that only asks
    whether a model is live."""
    model = recommender.record_model(
        session=session,
        purpose=purpose,
        algorithm="ease",
        params={},
        metrics={},
        artifact_key="models/fake.npz",
        trained_ratings=1,
        job_id=None,
    )
    recommender.activate(session=session, version=model.version, decision="test")
    return model
