from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from db.media_types import cache_control_for, content_type_for
from workers.media import playlists
from workers.media.ladder import output_fps
from workers.media.probe import SourceInfo

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("videos/j1/master.m3u8", "application/vnd.apple.mpegurl", "public, max-age=60"),
        ("videos/j1/720p/index.m3u8", "application/vnd.apple.mpegurl", IMMUTABLE),
        ("videos/j1/720p/seg_00000.ts", "video/mp2t", IMMUTABLE),
        ("videos/j1/720p/seg_00000.m4s", "video/mp4", IMMUTABLE),
        ("videos/j1/720p/init.mp4", "video/mp4", IMMUTABLE),
        ("videos/j1/poster.jpg", "image/jpeg", IMMUTABLE),
        ("videos/j1/thumbs/0001.JPG", "image/jpeg", IMMUTABLE),
        ("videos/j1/notes.bin", "application/octet-stream", "public, max-age=60"),
    ],
)
def test_headers(path: str, content_type: str, cache: str) -> None:
    assert content_type_for(path) == content_type
    assert cache_control_for(path) == cache


@pytest.mark.parametrize(
    ("fps", "out"),
    [(30.0, "30"), (29.97002997, "30000/1001"), (60.0, "60"), (59.94, "60000/1001"),
     (23.976, "24000/1001"), (25.0, "25"), (120.0, "60"), (90.0, "45"), (240.0, "60"),
     (12.5, "25/2"), (15.0, "15")],
)  # fmt: skip
def test_output_frame_rate(fps: float, out: str) -> None:
    assert output_fps(SourceInfo(640, 360, 10.0, fps, False, "h264")) == Fraction(out)


def write_ladder(folder: Path, parts: list[tuple[float, int]]) -> Path:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:4"]
    for i, (duration, size) in enumerate(parts):
        (folder / f"seg_{i}.ts").write_bytes(bytes(size))
        lines += [f"#EXTINF:{duration:.6f},", f"seg_{i}.ts"]
    (folder / "index.m3u8").write_text("\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    return folder / "index.m3u8"


def test_peak_bandwidth_is_the_busiest_run_of_segments(tmp_path: Path) -> None:
    # 4 s at 1 Mbit/s, 4 s at 2 Mbit/s, then a 0.5 s tail at 8 Mbit/s: the tail alone
    # is too short to count (RFC 8216 windows last 0.5-1.5 target durations), with
    # the segment before it it makes 4.5 s at (8 + 0.5 * 8) / 4.5 Mbit/s.
    media = write_ladder(tmp_path, [(4.0, 500_000), (4.0, 1_000_000), (0.5, 500_000)])
    peak, average = playlists.bandwidths(media, 4.0)
    assert peak == pytest.approx(12_000_000 / 4.5, abs=1)
    assert average == round(16_000_000 / 8.5)
    assert [uri for _, uri in playlists.segments(media)] == ["seg_0.ts", "seg_1.ts", "seg_2.ts"]


def test_a_video_shorter_than_half_a_segment_counts_whole(tmp_path: Path) -> None:
    media = write_ladder(tmp_path, [(1.0, 100_000)])
    assert playlists.bandwidths(media, 4.0) == (800_000, 800_000)


def test_codecs_of_a_master(tmp_path: Path) -> None:
    master = tmp_path / "master.m3u8"
    master.write_text(
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=2x2,CODECS="avc1.4d401e,mp4a.40.2"\n'
        "a/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1\nb/index.m3u8\n"
    )
    assert playlists.master_codecs(master) == {
        "a/index.m3u8": "avc1.4d401e,mp4a.40.2",
        "b/index.m3u8": "",
    }


def test_no_sps_in_something_that_is_not_ts(tmp_path: Path) -> None:
    other = tmp_path / "x.ts"
    other.write_bytes(b"\x00\x00\x01\x67\x64\x00\x1f" * 100)  # an SPS, but no TS packets
    assert playlists.avc_codec_from_ts(other) is None
