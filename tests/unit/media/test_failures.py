"""Interrupted and failed transcodes: a reason for a person, no ffmpeg left behind."""

from __future__ import annotations

import dataclasses
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from tests.unit.media.helpers import ffmpeg_children, ffprobe, process_state
from workers.media.hls import TranscodeFailed, ladder_command, transcode
from workers.media.ladder import Rung, plan_ladder
from workers.media.probe import SourceInfo, probe


class SoftTimeLimit(Exception):
    """Stands for Celery's SoftTimeLimitExceeded: an Exception raised by a signal
    handler in the thread that runs the task."""


class Stop(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_ffmpeg_left() -> Iterator[None]:
    assert ffmpeg_children() == []
    yield
    assert ffmpeg_children() == []


def _start(clips: dict[str, Path], name: str = "landscape") -> tuple[Path, SourceInfo, list[Rung]]:
    source = clips[name]
    info = probe(source)
    return source, info, plan_ladder(info)


def test_an_exception_from_the_callback_stops_ffmpeg(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    source, info, rungs = _start(clips)
    running: list[list[int]] = []

    def on_progress(fraction: float) -> None:
        running.append(ffmpeg_children())
        raise Stop

    with pytest.raises(Stop):
        transcode(source, info, rungs, tmp_path, on_progress=on_progress)
    assert len(running) == 1 and len(running[0]) == 1  # ffmpeg was running when we raised
    assert ffmpeg_children() == []


def test_keyboard_interrupt_stops_ffmpeg(clips: dict[str, Path], tmp_path: Path) -> None:
    source, info, rungs = _start(clips)

    def on_progress(fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        transcode(source, info, rungs, tmp_path, on_progress=on_progress)


def test_a_signal_handlers_exception_stops_ffmpeg(clips: dict[str, Path], tmp_path: Path) -> None:
    source, info, rungs = _start(clips)

    def soft_limit(signum: int, frame: FrameType | None) -> None:
        raise SoftTimeLimit

    previous = signal.signal(signal.SIGALRM, soft_limit)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        started = time.monotonic()
        with pytest.raises(SoftTimeLimit):
            transcode(source, info, rungs, tmp_path)
        assert time.monotonic() - started < 5  # it did not wait for the transcode
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


WORKER = """
import sys
from pathlib import Path
from workers.media.hls import transcode
from workers.media.ladder import plan_ladder
from workers.media.probe import probe

source = Path(sys.argv[1])
info = probe(source)
transcode(source, info, plan_ladder(info), Path(sys.argv[2]),
          on_progress=lambda fraction: print("running", flush=True))
"""


def test_a_worker_killed_outright_takes_ffmpeg_with_it(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    # Celery's hard time limit SIGKILLs the pool process: nothing of ours runs then.
    # ffmpeg goes by PR_SET_PDEATHSIG (and, a moment later, by its broken progress pipe).
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(clips["landscape"]), str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert worker.stdout is not None
    try:
        assert worker.stdout.readline() == b"running\n"
        orphans = ffmpeg_children(worker.pid)
        assert len(orphans) == 1
    finally:
        worker.kill()
        worker.wait()
        worker.stdout.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = process_state(orphans[0])
        if state is None or state[0] != "ffmpeg" or state[1] == "Z":
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"ffmpeg {orphans[0]} outlived its killed parent")


def test_a_timeout_fails_with_a_reason(clips: dict[str, Path], tmp_path: Path) -> None:
    source, info, rungs = _start(clips)
    with pytest.raises(TranscodeFailed) as caught:
        transcode(source, info, rungs, tmp_path, timeout_s=0.5)
    assert caught.value.reason == "The transcode took longer than the 0.5 s allowed."


def test_a_failing_ffmpeg_gives_a_reason_and_its_stderr(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    source, info, rungs = _start(clips, "no_audio")
    claims_audio = dataclasses.replace(info, has_audio=True)  # the file has none
    with pytest.raises(TranscodeFailed) as caught:
        transcode(source, claims_audio, rungs, tmp_path)
    assert caught.value.reason == "The video could not be transcoded."
    assert caught.value.detail.startswith("ffmpeg exit status 1\n")
    assert caught.value.stderr_tail
    assert any("matches no streams" in line for line in caught.value.stderr_tail)
    assert len(caught.value.stderr_tail) <= 20


def test_a_file_cut_short_behind_its_index_is_incomplete(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    # faststart: the index up front survives the cut, so it probes as 9 s; ffmpeg then
    # decodes the first third and stops with exit status 0.
    source, info, rungs = _start(clips, "cut_faststart")
    assert info.duration_s == pytest.approx(9.0, abs=0.1)
    with pytest.raises(TranscodeFailed) as caught:
        transcode(source, info, rungs, tmp_path)
    assert re.fullmatch(
        r"The file is incomplete or damaged: only [2-4] s of its 9 s could be read\.",
        caught.value.reason,
    )


def test_poster_falls_back_to_the_first_frame(clips: dict[str, Path], tmp_path: Path) -> None:
    # One second of video in twenty of sound: 10% in (2 s) there is no frame.
    source, info, rungs = _start(clips, "short_video")
    assert info.duration_s == pytest.approx(20.0, abs=0.1)
    output = transcode(source, info, rungs, tmp_path)
    poster = ffprobe(tmp_path / output.poster, "-show_streams")["streams"][0]
    assert (poster["width"], poster["height"]) == (320, 240)


def test_ladder_command_is_one_ffmpeg_decoding_once(clips: dict[str, Path], tmp_path: Path) -> None:
    source, info, rungs = _start(clips)
    argv = ladder_command(source, info, rungs, tmp_path)
    assert argv[0] == "ffmpeg" and argv.count("-i") == 1
    graph = argv[argv.index("-filter_complex") + 1]
    assert "split=7" in graph  # five rungs, the poster, the thumbnails
    assert argv[argv.index("-var_stream_map") + 1].split() == [
        f"v:{i},a:{i},name:{r.name}" for i, r in enumerate(rungs)
    ]
    assert {"-progress", "-nostats", "-nostdin"} <= set(argv)
    assert "-threads" not in argv
    threaded = ladder_command(source, info, rungs, tmp_path, threads=2)
    assert threaded[threaded.index("-threads") + 1] == "2"
    quiet = probe(clips["no_audio"])
    silent = ladder_command(clips["no_audio"], quiet, plan_ladder(quiet), tmp_path)
    assert "a:" not in silent[silent.index("-var_stream_map") + 1]
    assert "[0:a:0]" not in silent[silent.index("-filter_complex") + 1]
    ladder_only = ladder_command(source, info, rungs, tmp_path, images=False)
    assert "split=5" in ladder_only[ladder_only.index("-filter_complex") + 1]
    assert not any(arg.endswith(".jpg") for arg in ladder_only)
    images_only = ladder_command(source, info, [], tmp_path)
    assert "-var_stream_map" not in images_only
    assert "split=2" in images_only[images_only.index("-filter_complex") + 1]
    with pytest.raises(ValueError, match="nothing to write"):
        ladder_command(source, info, [], tmp_path, images=False)


def test_out_dir_must_not_look_like_a_pattern(clips: dict[str, Path], tmp_path: Path) -> None:
    source, info, rungs = _start(clips)
    with pytest.raises(ValueError, match="%"):
        ladder_command(source, info, rungs, tmp_path / "100%")
