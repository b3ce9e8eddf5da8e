"""The HLS ladder, poster and thumbnails of a source in one ffmpeg process.

The source is decoded once; a `split` feeds one scaler + libx264 encoder per rung,
the poster and the thumbnails. Keyframes are forced on the same timestamps in every
rung (and scene-cut keyframes are off), so all rungs cut into segments together and
a player can switch between them at any segment.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from workers.media import playlists
from workers.media.ladder import MAX_FPS, Rung, fit_within, output_fps
from workers.media.probe import INPUT_OPTIONS, SourceInfo, input_url
from workers.media.process import UNTRANSCODABLE, failure_reason, run_ffmpeg

MASTER = "master.m3u8"
POSTER = "poster.jpg"
THUMBS_DIR = "thumbs"
POSTER_AT = 0.10  # of the duration: past fades from black and title cards
POSTER_LONG_SIDE = 1280
THUMB_LONG_SIDE = 320
THUMB_COUNT = 20
THUMB_MIN_INTERVAL_S = 2.0
HIGH_PROFILE_FROM = 720  # short side; smaller rungs use Main for older decoders
MAXRATE = 1.1  # x video_kbps: peaks stay close to the advertised BANDWIDTH
BUFSIZE = 2.0  # x video_kbps: about two seconds of VBV buffer
PROGRESS_BEFORE_MASTER = 0.99
INCOMPLETE = 0.75  # a run that wrote less than this share of the duration read a cut file


@dataclass(frozen=True)
class Rendition:
    name: str
    width: int
    height: int
    bandwidth: int  # bits/s, as written in the master playlist
    playlist: str  # relative to out_dir


@dataclass(frozen=True)
class LadderOutput:
    master: str
    renditions: list[Rendition]
    poster: str
    thumbnails: list[str]  # in time order
    files: list[str]  # every file written, relative to out_dir


class TranscodeFailed(Exception):
    """ffmpeg failed. `reason` is a sentence for a person (no paths, no ffmpeg output);
    `detail` (what went wrong, then the tail of ffmpeg's stderr) is for an operator."""

    def __init__(
        self, reason: str, stderr_tail: list[str] | None = None, *, detail: str = ""
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stderr_tail = list(stderr_tail or [])
        self.detail = "\n".join(line for line in (detail, *self.stderr_tail) if line)


def thumbnail_interval_s(duration_s: float) -> float:
    return max(THUMB_MIN_INTERVAL_S, duration_s / THUMB_COUNT)


def ladder_command(
    source: Path,
    info: SourceInfo,
    rungs: list[Rung],
    out_dir: Path,
    *,
    segment_s: float = 4.0,
    preset: str = "veryfast",
    threads: int = 0,
    images: bool = True,
) -> list[str]:
    """The ffmpeg argv that writes the ladder, poster and thumbnails into out_dir.

    images=False leaves out the poster and thumbnails, and rungs=[] the ladder (the
    benchmark runs the parts in separate processes). Creates out_dir/thumbs: the
    image2 muxer makes no folders (hls does)."""
    if not rungs and not images:
        raise ValueError("nothing to write: no rungs and no images")
    out = Path(out_dir).resolve()
    if "%" in str(out):
        raise ValueError("out_dir must not contain '%' (ffmpeg reads it as a pattern)")
    fps = output_fps(info)
    branches = [f"[s{i}]" for i in range(len(rungs))] + (["[sp]", "[st]"] if images else [])
    graph = [f"[0:V:0]fps={fps.numerator}/{fps.denominator},split={len(branches)}"
             + "".join(branches)]  # fmt: skip
    graph += [
        f"[s{i}]scale={r.width}:{r.height},setsar=1,format=yuv420p[v{i}]"
        for i, r in enumerate(rungs)
    ]
    if rungs and info.has_audio:
        # Gaps filled with silence so audio stays in sync across segments.
        graph.append(
            f"[0:a:0]aresample=async=1:first_pts=0,asplit={len(rungs)}"
            + "".join(f"[a{i}]" for i in range(len(rungs)))
        )
    outputs: list[str] = []
    if rungs:
        outputs += _ladder_output(info, rungs, out, segment_s, preset, threads)
    if images:
        (out / THUMBS_DIR).mkdir(parents=True, exist_ok=True)
        graph += _image_branches(info)
        outputs += _image_outputs(out)
    return ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "warning",
            "-progress", "pipe:1", "-nostats",
            *INPUT_OPTIONS, "-i", input_url(source),
            "-filter_complex", ";".join(graph), *outputs]  # fmt: skip


def _ladder_output(
    info: SourceInfo, rungs: list[Rung], out: Path, segment_s: float, preset: str, threads: int
) -> list[str]:
    """Output options of the one HLS output holding every rung."""
    argv = [arg for i in range(len(rungs)) for arg in ("-map", f"[v{i}]")]
    if info.has_audio:
        argv += [arg for i in range(len(rungs)) for arg in ("-map", f"[a{i}]")]
    # Frames in two segments at the highest rate we output: only forced keyframes.
    gop = math.ceil(2 * segment_s * MAX_FPS)
    argv += ["-map_metadata", "-1", "-map_chapters", "-1",
             "-c:v", "libx264", "-preset", preset,
             "-sc_threshold", "0", "-g", str(gop), "-forced-idr", "1",
             "-force_key_frames:v", f"expr:gte(t,n_forced*{segment_s:g})",
             "-fps_mode:v", "cfr"]  # fmt: skip
    for i, rung in enumerate(rungs):
        profile = "high" if min(rung.width, rung.height) >= HIGH_PROFILE_FROM else "main"
        argv += [f"-profile:v:{i}", profile,
                 f"-b:v:{i}", f"{rung.video_kbps}k",
                 f"-maxrate:v:{i}", f"{round(rung.video_kbps * MAXRATE)}k",
                 f"-bufsize:v:{i}", f"{round(rung.video_kbps * BUFSIZE)}k"]  # fmt: skip
    if info.has_audio:
        argv += ["-c:a", "aac", "-ac", "2"]
        for i, rung in enumerate(rungs):
            argv += [f"-b:a:{i}", f"{rung.audio_kbps or 96}k"]
    if threads:
        argv += ["-threads", str(threads)]
    stream_map = " ".join(
        f"v:{i},{f'a:{i},' if info.has_audio else ''}name:{r.name}" for i, r in enumerate(rungs)
    )
    return [*argv, "-max_muxing_queue_size", "1024",
            "-f", "hls", "-hls_time", f"{segment_s:g}", "-hls_playlist_type", "vod",
            "-hls_segment_type", "mpegts", "-hls_flags", "independent_segments",
            "-hls_segment_filename", str(out / "%v" / "seg_%05d.ts"),
            "-master_pl_name", MASTER, "-var_stream_map", stream_map,
            str(out / "%v" / "index.m3u8")]  # fmt: skip


def _image_branches(info: SourceInfo) -> list[str]:
    """The poster (one frame 10% in) and thumbnails (one every interval) from the
    split's [sp] and [st], full-range 4:2:0 for JPEG."""
    poster_w, poster_h = fit_within(info.width, info.height, POSTER_LONG_SIDE)
    thumb_w, thumb_h = fit_within(info.width, info.height, THUMB_LONG_SIDE)
    interval = Fraction(round(thumbnail_interval_s(info.duration_s) * 1000), 1000)
    jpeg = "out_range=full,setsar=1,format=yuv420p"
    # trim, not select: the poster branch ends after its frame instead of
    # discarding every later one.
    return [
        f"[sp]trim=start={POSTER_AT * info.duration_s:.3f},trim=end_frame=1,"
        f"scale={poster_w}:{poster_h}:{jpeg}[poster]",
        f"[st]fps={interval.denominator}/{interval.numerator},"
        f"scale={thumb_w}:{thumb_h}:{jpeg}[thumbs]",
    ]


def _image_outputs(out: Path) -> list[str]:
    # mjpeg wants yuvj420p unless told that full-range yuv420p is fine (it is the same
    # data, without swscale's "deprecated pixel format" warnings).
    jpeg = ["-map_metadata", "-1", "-c:v", "mjpeg", "-strict", "unofficial"]
    return ["-map", "[poster]", *jpeg, "-q:v", "2", "-frames:v", "1", "-update", "1",
            str(out / POSTER),
            "-map", "[thumbs]", *jpeg, "-q:v", "5", "-start_number", "1",
            str(out / THUMBS_DIR / "%04d.jpg")]  # fmt: skip


def transcode(
    source: Path,
    info: SourceInfo,
    rungs: list[Rung],
    out_dir: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
    segment_s: float = 4.0,
    preset: str = "veryfast",
    timeout_s: float | None = None,
) -> LadderOutput:
    """Write the ladder, poster and thumbnails into out_dir (the caller's folder, which
    the caller removes) and describe them. on_progress(0..1) is called from this thread;
    whatever it (or a signal handler, or timeout_s) raises stops ffmpeg and propagates.
    A failed run raises TranscodeFailed."""
    out = Path(out_dir).resolve()
    argv = ladder_command(source, info, rungs, out, segment_s=segment_s, preset=preset)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        # 1.0 means done: it is reported once the master playlist is written.
        run = run_ffmpeg(
            argv,
            total_s=info.duration_s,
            on_progress=on_progress,
            timeout_s=timeout_s,
            ceiling=PROGRESS_BEFORE_MASTER,
        )
    except TimeoutError as error:
        raise TranscodeFailed(
            f"The transcode took longer than the {timeout_s:g} s allowed."
        ) from error
    if run.returncode != 0:
        raise TranscodeFailed(
            failure_reason(run.returncode, run.stderr_tail),
            run.stderr_tail,
            detail=f"ffmpeg exit status {run.returncode}",
        )
    if run.out_time_s < INCOMPLETE * info.duration_s - 1.0:
        raise TranscodeFailed(
            f"The file is incomplete or damaged: only {run.out_time_s:.0f} s of its "
            f"{info.duration_s:.0f} s could be read.",
            run.stderr_tail,
        )
    if not (out / POSTER).exists():
        left = None if deadline is None else max(0.1, deadline - time.monotonic())
        _first_frame_poster(source, info, out, left)
    renditions = _rewrite_master(out, info, rungs, segment_s)
    if on_progress is not None:
        on_progress(1.0)
    return LadderOutput(
        master=MASTER,
        renditions=renditions,
        poster=POSTER,
        thumbnails=sorted(p.relative_to(out).as_posix() for p in (out / THUMBS_DIR).glob("*.jpg")),
        files=sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()),
    )


def _rewrite_master(
    out: Path, info: SourceInfo, rungs: list[Rung], segment_s: float
) -> list[Rendition]:
    """Replace ffmpeg's master with measured bandwidths (see playlists.py)."""
    written = playlists.master_codecs(out / MASTER)
    fps = float(output_fps(info))
    variants, renditions = [], []
    for rung in rungs:
        uri = f"{rung.name}/index.m3u8"
        media = out / uri
        if not media.exists() or not playlists.segments(media):
            raise TranscodeFailed(UNTRANSCODABLE, detail=f"ffmpeg wrote no {rung.name} rendition")
        peak, average = playlists.bandwidths(media, segment_s)
        codecs = written.get(uri) or _codecs_from_segment(media, info.has_audio)
        variants.append(playlists.Variant(uri, peak, average, rung.width, rung.height, fps, codecs))
        renditions.append(Rendition(rung.name, rung.width, rung.height, peak, uri))
    playlists.write_master(out / MASTER, variants)
    return renditions


def _codecs_from_segment(media: Path, has_audio: bool) -> str:
    first = media.parent / playlists.segments(media)[0][1]
    video = playlists.avc_codec_from_ts(first)
    if video is None:
        raise TranscodeFailed(UNTRANSCODABLE, detail=f"no H.264 headers in {first.name}")
    return f"{video},{playlists.AAC_LC}" if has_audio else video


def _first_frame_poster(source: Path, info: SourceInfo, out: Path, timeout_s: float | None) -> None:
    """The poster branch got no frame (the duration ffprobe gave overshoots the last
    frame): take the first frame instead, in a second short ffmpeg."""
    width, height = fit_within(info.width, info.height, POSTER_LONG_SIDE)
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "warning",
            "-progress", "pipe:1", "-nostats", *INPUT_OPTIONS, "-i", input_url(source),
            "-map", "0:V:0", "-frames:v", "1",
            "-vf", f"scale={width}:{height}:out_range=full,setsar=1,format=yuv420p",
            "-map_metadata", "-1", "-c:v", "mjpeg", "-strict", "unofficial", "-q:v", "2",
            "-update", "1", str(out / POSTER)]  # fmt: skip
    try:
        run = run_ffmpeg(argv, total_s=0.0, timeout_s=timeout_s)
    except TimeoutError as error:
        raise TranscodeFailed("The poster took too long to extract.") from error
    if run.returncode != 0 or not (out / POSTER).exists():
        raise TranscodeFailed("No frame of the video could be read for a poster.", run.stderr_tail)
