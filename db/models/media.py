"""A title's video (its source and the published HLS set) and resumable uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.models.base import Base, BigId, JsonDoc, UTCDateTime, utcnow
from db.models.jobs import Job

VIDEO_STATES = ("none", "uploading", "queued", "ready")
UPLOAD_STATES = ("open", "completed", "expired", "aborted")


class Video(Base):
    """One per title that has (or had) a video.

    `status` holds what only the video knows (none, uploading, queued, ready); while a
    transcode job exists its state (running, failed, dead) is read from the job, so a
    retry or a death shows without a second write here.
    """

    __tablename__ = "videos"

    content_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("content.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="none")
    source_key: Mapped[str | None] = mapped_column(String(512))
    source_bytes: Mapped[int | None] = mapped_column(BigInteger)
    job_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    # Why the last transcode failed, for a person (the job keeps the technical error).
    error: Mapped[str | None] = mapped_column(Text)
    # The published set: every key lives under this job-scoped prefix.
    output_prefix: Mapped[str | None] = mapped_column(String(512))
    master_key: Mapped[str | None] = mapped_column(String(512))
    poster_key: Mapped[str | None] = mapped_column(String(512))
    thumbnail_keys: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    renditions: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # Loaded with the video, so a page of titles shows each state in one more query.
    job: Mapped[Job | None] = relationship(lazy="selectin", viewonly=True)

    __table_args__ = (
        CheckConstraint("status IN ('none', 'uploading', 'queued', 'ready')", name="status"),
    )


class Upload(Base):
    """A resumable upload: bytes arrive in order, straight into object storage."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    content_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("content.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    chunk_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    storage_key: Mapped[str] = mapped_column(String(512))
    # The S3 multipart upload id and the parts written so far ({"n", "etag"}).
    multipart_id: Mapped[str | None] = mapped_column(String(1024))
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("status IN ('open', 'completed', 'expired', 'aborted')", name="status"),
        CheckConstraint("received >= 0 AND received <= size_bytes", name="received"),
        CheckConstraint("size_bytes > 0", name="size"),
    )
