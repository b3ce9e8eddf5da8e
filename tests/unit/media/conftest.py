"""Clips made with ffmpeg's lavfi sources, once per session, for the media engine.

Real-services rule: ffmpeg is a service these tests need; without it they fail
(they never skip).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.unit.media.helpers import Transcoded, ffmpeg

# name -> (lavfi video, lavfi audio or None, extra output args, file suffix)
_LAVFI: dict[str, tuple[str, str | None, tuple[str, ...], str]] = {
    "landscape": ("testsrc2=size=1920x1080:rate=30:duration=5", "sine=f=440:d=5", (), ".mp4"),
    "portrait": ("testsrc2=size=720x1280:rate=30:duration=4", "sine=f=330:d=4", (), ".mov"),
    "no_audio": ("testsrc2=size=640x360:rate=25:duration=6", None, (), ".mp4"),
    # testsrc2 rounds sizes to even, and 4:2:0 H.264 cannot be odd: scale, 4:4:4.
    "odd": (
        "testsrc2=size=640x360:rate=30:duration=5,scale=641:361,setsar=1",
        "sine=f=550:d=5",
        ("-pix_fmt", "yuv444p"),
        ".mkv",
    ),
    "fps60": ("testsrc2=size=640x360:rate=60:duration=9", "sine=f=660:d=9", (), ".mp4"),
    # 2 s at 30 fps, then 15 fps: timestamps kept as they are (variable frame rate).
    "vfr": (
        "testsrc2=size=640x360:rate=30:duration=6,setpts='if(lt(N,60),N/30,2+(N-60)/15)/TB'",
        None,
        ("-fps_mode", "passthrough"),
        ".mp4",
    ),
    "anamorphic": ("testsrc2=size=480x360:rate=25:duration=1,setsar=4/3", None, (), ".mp4"),
    "too_wide": ("testsrc2=size=8200x16:rate=10:duration=0.5", None, (), ".mkv"),
    # A second of video, twenty of sound: Matroska gives the format's 20 s as the duration.
    "short_video": ("testsrc2=size=320x240:rate=25:duration=1", "sine=f=220:d=20", (), ".mkv"),
    "faststart": (
        "testsrc2=size=640x360:rate=30:duration=9",
        "sine=f=440:d=9",
        ("-movflags", "+faststart"),
        ".mp4",
    ),
    "rotated_base": ("testsrc2=size=320x180:rate=30:duration=3", None, (), ".mp4"),
}


def _lavfi(path: Path, video: str, audio: str | None, extra: Sequence[str]) -> None:
    inputs = ["-f", "lavfi", "-i", video]
    codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        inputs += ["-f", "lavfi", "-i", audio]
        codecs += ["-c:a", "aac", "-b:a", "96k"]
    ffmpeg(*inputs, *codecs, *extra, str(path))


@pytest.fixture(scope="session", autouse=True)
def _ffmpeg_installed() -> None:
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (Debian: apt-get install ffmpeg); see Makefile")


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    made: dict[str, Path] = {}
    for name, (video, audio, extra, suffix) in _LAVFI.items():
        made[name] = folder / f"{name}{suffix}"
        _lavfi(made[name], video, audio, extra)
    made["rotated"] = folder / "rotated.mp4"  # a phone held upright: 320x180 shown 180x320
    ffmpeg("-i", str(made["rotated_base"]), "-c", "copy", "-metadata:s:v:0", "rotate=90",
           str(made["rotated"]))  # fmt: skip
    made["audio_only"] = folder / "audio_only.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=d=3", "-c:a", "aac", str(made["audio_only"]))
    made["no_frames"] = folder / "no_frames.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "0", str(made["no_frames"]))
    # moov at the end (ffmpeg's default): the first third has no index at all.
    whole = made["landscape"].read_bytes()
    made["truncated"] = folder / "truncated.mp4"
    made["truncated"].write_bytes(whole[: len(whole) // 3])
    # faststart keeps the index, so this one probes fine and ends early.
    fast = made["faststart"].read_bytes()
    made["cut_faststart"] = folder / "cut_faststart.mp4"
    made["cut_faststart"].write_bytes(fast[: len(fast) // 3])
    made["text"] = folder / "notes.mp4"
    made["text"].write_text("These are my notes, not a video.\n" * 20)
    made["empty"] = folder / "empty.mp4"
    made["empty"].write_bytes(b"")
    return made


@pytest.fixture(scope="session")
def transcoded(
    clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Transcoded]:
    """transcoded(name): the clip's ladder, made once per session."""
    done: dict[str, Transcoded] = {}

    def get(name: str) -> Transcoded:
        if name not in done:
            done[name] = Transcoded(clips[name], tmp_path_factory.mktemp(f"hls_{name}"))
        return done[name]

    return get
