"""ffprobe a source and turn what it says into SourceInfo, or a reason a person reads."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from db.media_sniff import HEAD_BYTES, looks_like_video

MAX_SIDE = 8192
STDERR_DETAIL_CHARS = 1000  # the end of ffprobe's complaint, for the job's error
MIN_SIDE = 16
# Demuxers we let ffmpeg use on uploads (the containers sniff.py accepts). Anything
# else -- playlists (hls, concat), images, raw streams -- could read other files or
# URLs on the worker's behalf, so ffprobe and ffmpeg never open it.
DEMUXERS = "mov,matroska,avi,mpegts,mpeg,flv,ogg,asf"
# Input options shared by ffprobe and ffmpeg; the path follows as `file:<path>` so
# that a name like "-x" or "http:..." is never read as an option or a protocol.
INPUT_OPTIONS = ["-protocol_whitelist", "file", "-format_whitelist", DEMUXERS]


@dataclass(frozen=True)
class SourceInfo:
    width: int  # as displayed: rotation and sample aspect ratio applied
    height: int
    duration_s: float
    fps: float
    has_audio: bool
    video_codec: str


class UnplayableSource(Exception):
    """The upload is not a video we can transcode. `reason` is a sentence for the
    uploader (no paths, no tool output); `detail` is what an operator needs (ffprobe's
    words, the OS error), kept on the job."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def input_url(path: Path) -> str:
    return f"file:{Path(path).resolve()}"


def probe(path: Path, *, timeout_s: float = 60.0) -> SourceInfo:
    """What the source is, as displayed; raises UnplayableSource with a reason."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(HEAD_BYTES)
    except OSError as error:
        raise UnplayableSource("The file could not be read.", str(error)) from error
    if not head:
        raise UnplayableSource("The file is empty.")
    argv = ["ffprobe", "-v", "error", "-hide_banner", *INPUT_OPTIONS,
            "-print_format", "json", "-show_format", "-show_streams", input_url(path)]  # fmt: skip
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise UnplayableSource(
            f"The file could not be read in time (more than {timeout_s:g} s).",
            f"ffprobe ran past {timeout_s:g} s",
        ) from error
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip()[-STDERR_DETAIL_CHARS:]
        detail = f"ffprobe exit status {done.returncode}: {said or 'no message'}"
        if not looks_like_video(head):
            raise UnplayableSource("The file is not a video in a format we accept.", detail)
        raise UnplayableSource("The file is incomplete or damaged.", detail)
    return source_info(json.loads(done.stdout or b"{}"))


def source_info(report: dict[str, Any]) -> SourceInfo:
    """SourceInfo from ffprobe's JSON (-show_format -show_streams)."""
    streams = report.get("streams", [])
    fmt = report.get("format", {})
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    duration = _number(videos[0].get("duration")) if videos else 0.0
    duration = duration if duration > 0 else _number(fmt.get("duration"))
    if not streams or (not videos and duration <= 0):
        raise UnplayableSource("The video has no duration.")
    if not videos:
        raise UnplayableSource("The file is not a video (no video stream).")
    video = videos[0]
    if not video.get("codec_name"):
        raise UnplayableSource("The video is in a format we cannot decode.")
    width, height = _displayed_size(video)
    if width <= 0 or height <= 0:
        raise UnplayableSource("The video has no picture size.")
    if max(width, height) > MAX_SIDE:
        raise UnplayableSource(
            f"The video is {width}x{height}; the largest accepted is {MAX_SIDE} on a side."
        )
    if min(width, height) < MIN_SIDE:
        raise UnplayableSource(
            f"The video is {width}x{height}; the smallest accepted is {MIN_SIDE} on a side."
        )
    if duration <= 0:
        raise UnplayableSource("The video has no duration.")
    fps = _frame_rate(video)
    if fps <= 0:
        raise UnplayableSource("The video has no frame rate.")
    return SourceInfo(
        width=width,
        height=height,
        duration_s=duration,
        fps=fps,
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        video_codec=str(video["codec_name"]),
    )


def _displayed_size(video: dict[str, Any]) -> tuple[int, int]:
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    sar = _ratio(video.get("sample_aspect_ratio"))
    if sar and sar != 1:  # anamorphic: stretch the width as a player would
        width = round(width * sar)
    if _rotation(video) % 180 == 90:
        width, height = height, width
    return width, height


def _rotation(video: dict[str, Any]) -> int:
    for side in video.get("side_data_list", []):
        if "rotation" in side:
            return round(_number(side["rotation"]))
    return round(_number(video.get("tags", {}).get("rotate")))  # older ffmpeg's tag


def _frame_rate(video: dict[str, Any]) -> float:
    """r_frame_rate (the base rate every timestamp fits) unless it is implausible,
    as it is for some variable-rate files; then the average."""
    real = _ratio(video.get("r_frame_rate"))
    average = _ratio(video.get("avg_frame_rate"))
    if real and 1 <= real <= 240:
        return float(real)
    return float(average) if average else 0.0


def _ratio(text: Any) -> Fraction | None:
    try:
        num, _, den = str(text).replace(":", "/").partition("/")
        value = Fraction(int(num), int(den or 1))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and number not in (float("inf"), float("-inf")) else 0.0
