from __future__ import annotations

from pathlib import Path

import pytest

from db.media_sniff import HEAD_BYTES, looks_like_video
from tests.unit.media.helpers import ffmpeg

VIDEO = ["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10:duration=0.5"]
AUDIO = ["-f", "lavfi", "-i", "sine=d=0.5"]
# file name -> ffmpeg output arguments
ACCEPTED = {
    "a.mp4": [*VIDEO, "-c:v", "libx264"],
    "a.mov": [*VIDEO, "-c:v", "libx264"],
    "a.m4v": [*VIDEO, "-c:v", "libx264", "-f", "ipod"],
    "a.3gp": [*VIDEO, "-c:v", "libx264"],
    "a.mkv": [*VIDEO, "-c:v", "libx264"],
    "a.webm": [*VIDEO, "-c:v", "libvpx", "-deadline", "realtime"],
    "a.avi": [*VIDEO, "-c:v", "mpeg4"],
    "a.ts": [*VIDEO, "-c:v", "libx264"],
    "a.m2ts": [*VIDEO, "-c:v", "libx264", "-f", "mpegts", "-mpegts_m2ts_mode", "1"],
    "a.mpg": [*VIDEO, "-c:v", "mpeg2video", "-f", "vob"],
    "a.flv": [*VIDEO, "-c:v", "flv1"],
    "a.ogv": [*VIDEO, "-c:v", "libtheora"],
    "a.wmv": [*VIDEO, "-c:v", "wmv2"],
    "theora_and_vorbis.ogg": [*VIDEO, *AUDIO, "-c:v", "libtheora", "-c:a", "libvorbis"],
}
REJECTED = {
    "a.m4a": [*AUDIO, "-c:a", "aac"],
    "a.mp3": [*AUDIO, "-c:a", "libmp3lame"],
    "a.wav": [*AUDIO],
    "a.oga": [*AUDIO, "-c:a", "libvorbis", "-f", "ogg"],
    "a.opus": [*AUDIO, "-c:a", "libopus"],
    "a.wma": [*AUDIO, "-c:a", "wmav2"],
    "a.png": [*VIDEO, "-frames:v", "1"],
    "a.jpg": [*VIDEO, "-frames:v", "1"],
    "a.gif": [*VIDEO],
    "a.h264": [*VIDEO, "-c:v", "libx264"],  # a raw stream, no container
    "a.m3u8": [*VIDEO, "-c:v", "libx264", "-f", "hls"],
}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sniff")
    for name, args in {**ACCEPTED, **REJECTED}.items():
        ffmpeg(*args, str(folder / name))
    return folder


def head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(HEAD_BYTES)


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_video_containers_are_accepted(made: Path, name: str) -> None:
    assert looks_like_video(head(made / name))


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_audio_images_raw_streams_and_playlists_are_rejected(made: Path, name: str) -> None:
    assert not looks_like_video(head(made / name))


def test_clips_and_their_damaged_copies(clips: dict[str, Path]) -> None:
    assert looks_like_video(head(clips["landscape"]))
    assert looks_like_video(head(clips["truncated"]))  # a damaged video is still a video
    assert not looks_like_video(head(clips["text"]))
    assert not looks_like_video(head(clips["audio_only"]))
    assert not looks_like_video(b"")


def test_signatures_need_more_than_a_first_byte() -> None:
    assert not looks_like_video(b"\x47" + b"\x00" * 400)  # one 0x47 is not MPEG-TS
    packets = b"".join(b"\x47" + bytes(187) for _ in range(3))
    assert looks_like_video(packets)
    assert not looks_like_video(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    assert looks_like_video(b"RIFF\x00\x00\x00\x00AVI LIST")
    assert not looks_like_video(b"FLV")  # too short for a header
    assert not looks_like_video(b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00")
    assert looks_like_video(b"\x00\x00\x00\x18ftypqt  \x00\x00\x00\x00")
    assert looks_like_video(b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat")  # old QuickTime
    assert not looks_like_video(b"%PDF-1.7\n" + bytes(100))
