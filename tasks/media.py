"""Transcodes on the media queue: source -> probe -> HLS ladder -> storage -> switch
(the switch commits together with the job's success)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from db.errors import InvalidInput
from db.services import videos
from tasks.context import storage
from tasks.job_runner import Finish, long_job_task
from tasks.media_io import (
    already_live,
    record_failure,
    still_current,
    switch_to,
    throttled,
    upload_set,
    working_folder,
)
from workers.media.hls import TranscodeFailed, transcode
from workers.media.ladder import plan_ladder
from workers.media.probe import UnplayableSource, probe


# Below RabbitMQ's default 30-minute consumer timeout, which would otherwise redeliver
# a late-acked message that is still being worked on.
@long_job_task("media.transcode", soft_time_limit=1620, time_limit=1740)
def transcode_video(
    job_id: int, args: dict[str, Any], progress: Callable[[float], None]
) -> dict[str, Any] | Finish:
    content_id, source_key = int(args["content_id"]), str(args["source_key"])
    prefix = videos.output_prefix(content_id=content_id, job_id=job_id, set_id=args.get("set_id"))
    if not still_current(content_id, job_id):
        return {"skipped": "a newer upload or transcode replaced this one"}
    if (published := already_live(content_id, prefix)) is not None:
        return published  # viewers play that set: a rerun must not clear its prefix
    with working_folder(job_id) as tmp:
        source = storage().download(source_key, tmp / "source")
        try:
            info = probe(source)
            output = transcode(
                source,
                info,
                plan_ladder(info),
                tmp / "out",
                on_progress=throttled(progress, low=0.05, high=0.9),
            )
        except (UnplayableSource, TranscodeFailed) as error:  # retrying cannot help
            # The video shows the uploader a sentence; the job keeps the tool's words
            # (paths, ffmpeg output) for operators.
            record_failure(content_id, job_id, error.reason)
            raise InvalidInput(f"{error.reason}\n{error.detail}".strip()) from error
        upload_set(tmp / "out", output, prefix)
    progress(0.95)
    result = {
        "prefix": prefix,
        "renditions": [r.name for r in output.renditions],
        "duration_s": info.duration_s,
    }
    # The switch commits with the job's success: a worker dying between the two would
    # leave the set live and the job to run again.
    switch = partial(
        switch_to, content_id=content_id, job_id=job_id, prefix=prefix, info=info, output=output
    )
    return Finish(result=result, save=switch)
