from __future__ import annotations

from pathlib import Path

import pytest

from workers.media.probe import SourceInfo, UnplayableSource, probe, source_info


def test_landscape_with_audio(clips: dict[str, Path]) -> None:
    assert probe(clips["landscape"]) == SourceInfo(
        width=1920, height=1080, duration_s=pytest.approx(5.0, abs=0.1), fps=30.0,
        has_audio=True, video_codec="h264",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("clip", "size", "fps", "audio"),
    [
        ("portrait", (720, 1280), 30.0, True),
        ("no_audio", (640, 360), 25.0, False),
        ("odd", (641, 361), 30.0, True),
        ("fps60", (640, 360), 60.0, True),
        ("vfr", (640, 360), 30.0, False),  # r_frame_rate: the rate every timestamp fits
        ("rotated", (180, 320), 30.0, False),  # rotation applied: as displayed
        ("anamorphic", (640, 360), 25.0, False),  # 480x360 with 4:3 pixels shows 640 wide
    ],
)
def test_sizes_as_displayed_rates_and_audio(
    clips: dict[str, Path], clip: str, size: tuple[int, int], fps: float, audio: bool
) -> None:
    info = probe(clips[clip])
    assert (info.width, info.height) == size
    assert info.fps == pytest.approx(fps)
    assert info.has_audio is audio
    assert info.duration_s > 0


def test_variable_frame_rate_duration_is_the_real_one(clips: dict[str, Path]) -> None:
    # 60 frames at 30 fps then 120 at 15 fps: 2 s + 8 s.
    assert probe(clips["vfr"]).duration_s == pytest.approx(10.0, abs=0.1)


@pytest.mark.parametrize(
    ("clip", "reason"),
    [
        ("truncated", "The file is incomplete or damaged."),
        ("text", "The file is not a video in a format we accept."),
        ("audio_only", "The file is not a video (no video stream)."),
        ("empty", "The file is empty."),
        ("no_frames", "The video has no duration."),
        ("too_wide", "The video is 8200x16; the largest accepted is 8192 on a side."),
    ],
)
def test_unplayable_sources_say_why(clips: dict[str, Path], clip: str, reason: str) -> None:
    with pytest.raises(UnplayableSource) as caught:
        probe(clips[clip])
    assert caught.value.reason == reason
    assert str(caught.value) == reason


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnplayableSource, match="could not be read"):
        probe(tmp_path / "gone.mp4")


def test_a_playlist_is_not_opened(tmp_path: Path, clips: dict[str, Path]) -> None:
    # An HLS playlist could make ffmpeg read other files or URLs: never a source.
    playlist = tmp_path / "upload.mp4"
    playlist.write_text(f"#EXTM3U\n#EXTINF:5,\n{clips['landscape']}\n#EXT-X-ENDLIST\n")
    with pytest.raises(UnplayableSource, match="not a video in a format we accept"):
        probe(playlist)


def test_a_path_that_looks_like_an_option_or_url_is_a_file(
    tmp_path: Path, clips: dict[str, Path]
) -> None:
    odd = tmp_path / "-i http:x.mp4"
    odd.write_bytes(clips["no_audio"].read_bytes())
    assert probe(odd).width == 640


def report(**video: object) -> dict[str, object]:
    stream = {"codec_type": "video", "codec_name": "h264", "width": 1920, "height": 1080,
              "r_frame_rate": "30/1", "avg_frame_rate": "30/1", "duration": "12.5"}  # fmt: skip
    stream.update(video)
    return {"streams": [stream], "format": {"duration": "12.5"}}


def test_report_edge_cases() -> None:
    with pytest.raises(UnplayableSource) as caught:
        source_info(report(width=20000, height=20000))
    assert (
        caught.value.reason == "The video is 20000x20000; the largest accepted is 8192 on a side."
    )
    rotated = report(side_data_list=[{"side_data_type": "Display Matrix", "rotation": -90}])
    assert (source_info(rotated).width, source_info(rotated).height) == (1080, 1920)
    assert source_info(report(tags={"rotate": "270"})).width == 1080
    # Some variable-rate files claim an absurd base rate: the average is the truth.
    assert source_info(report(r_frame_rate="90000/1", avg_frame_rate="24/1")).fps == 24.0
    assert source_info(report(duration="N/A")).duration_s == 12.5  # the container's
    with pytest.raises(UnplayableSource, match="no duration"):
        source_info({"streams": report(duration="0")["streams"], "format": {}})
    cover_art = {"codec_type": "video", "codec_name": "mjpeg", "width": 500, "height": 500,
                 "disposition": {"attached_pic": 1}}  # fmt: skip
    audio = {"codec_type": "audio", "codec_name": "mp3"}
    with pytest.raises(UnplayableSource, match=r"not a video \(no video stream\)"):
        source_info({"streams": [audio, cover_art], "format": {"duration": "200"}})
