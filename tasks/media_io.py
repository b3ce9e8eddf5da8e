"""The transcode's glue to storage and the database: fetch a source, publish a set."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from db.after_commit import call_after_commit
from db.media_types import cache_control_for, content_type_for
from db.read_models.platform import platform_of
from db.read_models.sync import mark_changed
from db.services import videos
from db.storage import FileToPut, Storage
from tasks.context import session_factory, settings, storage
from workers.media.hls import LadderOutput
from workers.media.probe import SourceInfo

PROGRESS_EVERY_S = 1.0


def throttled(
    report: Callable[[float], None], *, low: float, high: float
) -> Callable[[float], None]:
    """Map an engine's 0-1 onto [low, high] of the job, writing at most once a second."""
    last = [float("-inf"), -1.0]

    def on_progress(fraction: float) -> None:
        now, value = time.monotonic(), low + (high - low) * min(max(fraction, 0.0), 1.0)
        if value > last[1] and (now - last[0] >= PROGRESS_EVERY_S or fraction >= 1.0):
            last[:] = [now, value]
            report(round(value, 4))

    return on_progress


@contextmanager
def working_folder(job_id: int) -> Iterator[Path]:
    """A temporary folder for one job, removed however the job ends. A worker killed
    mid-transcode cannot clean up, so the job's rerun removes what it left. Job ids are
    per platform, and two platforms may share a machine and its temporary folder: the
    name carries the platform's database, so one never clears the other's work."""
    prefix = f"cbrtl-transcode-{platform_of(settings())}-{job_id}-"
    for stale in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)


def still_current(content_id: int, job_id: int) -> bool:
    with session_factory()() as session:
        return videos.is_current(session=session, content_id=content_id, job_id=job_id)


def already_live(content_id: int, prefix: str) -> dict[str, Any] | None:
    """The result of the attempt that switched the title to `prefix`, if one did."""
    with session_factory()() as session:
        video = videos.serving(session=session, content_id=content_id, prefix=prefix)
        if video is None:
            return None
        names = [str(r["name"]) for r in video.renditions]
        return {"prefix": prefix, "renditions": names, "already_published": True}


def record_failure(content_id: int, job_id: int, reason: str) -> None:
    with session_factory()() as session:
        videos.record_failure(session=session, content_id=content_id, job_id=job_id, reason=reason)
        session.commit()


def files_to_put(out_dir: Path, output: LadderOutput, prefix: str) -> list[FileToPut]:
    """Every file of a transcoded set, keyed under `prefix`, with its HTTP headers."""
    return [
        FileToPut(
            key=f"{prefix}/{name}",
            path=out_dir / name,
            content_type=content_type_for(name),
            cache_control=cache_control_for(name),
        )
        for name in output.files
    ]


def publish_set(store: Storage, out_dir: Path, output: LadderOutput, prefix: str) -> None:
    """Put every file under `prefix` (job-scoped): a rerun first clears what a killed
    attempt left there, so the set is whole or not switched to at all. Never called for
    a live prefix: the transcode returns first (already_live)."""
    store.delete_prefix(prefix)
    store.put_files(files_to_put(out_dir, output, prefix))


def upload_set(out_dir: Path, output: LadderOutput, prefix: str) -> None:
    """publish_set into this process's storage."""
    publish_set(storage(), out_dir, output, prefix)


def switch_to(
    session: Session,
    *,
    content_id: int,
    job_id: int,
    prefix: str,
    info: SourceInfo,
    output: LadderOutput,
) -> None:
    """Switch the title to the new set in `session` (the job's success transaction);
    the set no longer served is deleted once that commits."""
    published = videos.PublishedSet(
        prefix=prefix,
        master_key=f"{prefix}/{output.master}",
        poster_key=f"{prefix}/{output.poster}",
        thumbnail_keys=[f"{prefix}/{t}" for t in output.thumbnails],
        renditions=[
            {"name": r.name, "width": r.width, "height": r.height, "bitrate": r.bandwidth}
            for r in output.renditions
        ],
        width=info.width,
        height=info.height,
        duration_s=info.duration_s,
    )
    unused = videos.publish(
        session=session, content_id=content_id, job_id=job_id, published=published
    )
    mark_changed(session, [content_id])  # its document names the new poster and stills
    if unused:  # the replaced set, or ours if a newer job took over meanwhile
        call_after_commit(session, partial(storage().delete_prefix, unused))
