"""The ladder of each kind of clip, checked on the files ffmpeg wrote."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.media.helpers import Transcoded, ffprobe, stream_inf, video_packet_flags
from workers.media import playlists
from workers.media.hls import THUMB_LONG_SIDE, thumbnail_interval_s
from workers.media.ladder import fit_within

SEGMENT_S = 4.0
CLIPS = ["landscape", "portrait", "no_audio", "odd", "fps60", "vfr", "rotated"]
Get = Callable[[str], Transcoded]


@pytest.fixture(params=CLIPS)
def done(request: pytest.FixtureRequest, transcoded: Get) -> Transcoded:
    return transcoded(request.param)


def test_expected_rungs(transcoded: Get) -> None:
    names = {clip: [r.name for r in transcoded(clip).output.renditions] for clip in CLIPS}
    assert names == {
        "landscape": ["240p", "360p", "480p", "720p", "1080p"],
        "portrait": ["240p", "360p", "480p", "720p"],
        "no_audio": ["240p", "360p"],
        "odd": ["240p", "360p"],
        "fps60": ["240p", "360p"],
        "vfr": ["240p", "360p"],
        "rotated": ["180p"],
    }
    portrait = transcoded("portrait").output.renditions
    assert [(r.width, r.height) for r in portrait][-2:] == [(480, 854), (720, 1280)]


def test_segments_last_segment_s_and_line_up_across_rungs(done: Transcoded) -> None:
    timelines = []
    for rendition in done.output.renditions:
        durations = [d for d, _ in playlists.segments(done.out_dir / rendition.playlist)]
        assert durations
        assert all(abs(d - SEGMENT_S) <= 0.5 for d in durations[:-1]), durations
        assert 0 < durations[-1] <= SEGMENT_S + 0.5
        assert sum(durations) == pytest.approx(done.info.duration_s, abs=0.5)
        timelines.append(durations)
    assert all(t == timelines[0] for t in timelines)  # keyframes aligned across rungs


def test_every_segment_starts_on_the_only_keyframe_it_has(done: Transcoded) -> None:
    for rendition in done.output.renditions:
        media = done.out_dir / rendition.playlist
        for _, uri in playlists.segments(media):
            flags = video_packet_flags(media.parent / uri)
            assert flags[0].startswith("K"), (rendition.name, uri)
            # No unforced keyframe (GOP long enough, scene cuts off), even at 60 fps.
            assert sum(f.startswith("K") for f in flags) == 1, (rendition.name, uri)


def test_master_lists_every_rung_honestly(done: Transcoded) -> None:
    variants = stream_inf(done.out_dir / done.output.master)
    assert list(variants) == [r.playlist for r in done.output.renditions]
    for rung, rendition in zip(done.rungs, done.output.renditions, strict=True):
        attributes = variants[rendition.playlist]
        assert attributes["RESOLUTION"] == f"{rung.width}x{rung.height}"
        assert (rendition.width, rendition.height) == (rung.width, rung.height)
        assert int(attributes["BANDWIDTH"]) == rendition.bandwidth
        segment = done.out_dir / rendition.playlist.replace("index.m3u8", "seg_00000.ts")
        stream = ffprobe(segment, "-select_streams", "v:0", "-show_streams")["streams"][0]
        profile = {"Main": "4d", "High": "64"}[stream["profile"]]
        video = f"avc1.{profile}" + r"[0-9a-f]{2}" + f"{stream['level']:02x}"
        audio = ",mp4a.40.2" if done.info.has_audio else ""
        assert re.fullmatch(video + audio, attributes["CODECS"])
        assert attributes["CODECS"] == f"{playlists.avc_codec_from_ts(segment)}{audio}"
        # BANDWIDTH: no whole segment goes faster, and it is not inflated either.
        media = done.out_dir / rendition.playlist
        for duration, uri in playlists.segments(media)[:-1]:
            bits = (media.parent / uri).stat().st_size * 8
            assert bits / duration <= rendition.bandwidth
        nominal = (rung.video_kbps + rung.audio_kbps) * 1000
        assert rendition.bandwidth <= 1.5 * nominal
        assert int(attributes["AVERAGE-BANDWIDTH"]) <= rendition.bandwidth


def test_ffprobe_reads_the_master_back(done: Transcoded) -> None:
    streams = ffprobe(done.out_dir / "master.m3u8", "-show_streams")["streams"]
    videos = [(s["width"], s["height"]) for s in streams if s["codec_type"] == "video"]
    audios = [s for s in streams if s["codec_type"] == "audio"]
    assert videos == [(r.width, r.height) for r in done.rungs]
    assert all(s["codec_name"] == "h264" and s["pix_fmt"] == "yuv420p" for s in streams
               if s["codec_type"] == "video")  # fmt: skip
    assert len(audios) == (len(done.rungs) if done.info.has_audio else 0)
    assert all(s["codec_name"] == "aac" for s in audios)


def test_poster_and_thumbnails(done: Transcoded) -> None:
    out, info = done.out_dir, done.info
    poster = out / done.output.poster
    assert poster.read_bytes()[:3] == b"\xff\xd8\xff"
    assert _size(poster) == fit_within(info.width, info.height, 1280)
    thumbs = done.output.thumbnails
    expected = info.duration_s / thumbnail_interval_s(info.duration_s)
    assert expected - 1 <= len(thumbs) <= expected + 1
    assert thumbs == sorted(thumbs) and thumbs[0] == "thumbs/0001.jpg"
    for thumb in thumbs:
        assert (out / thumb).read_bytes()[:3] == b"\xff\xd8\xff"
        assert _size(out / thumb) == fit_within(info.width, info.height, THUMB_LONG_SIDE)


def test_files_lists_everything_written(done: Transcoded) -> None:
    on_disk = sorted(p.relative_to(done.out_dir).as_posix()
                     for p in done.out_dir.rglob("*") if p.is_file())  # fmt: skip
    assert done.output.files == on_disk
    assert {"master.m3u8", "poster.jpg", *done.output.thumbnails} <= set(on_disk)
    for rendition in done.output.renditions:
        assert rendition.playlist in on_disk
        assert any(f.startswith(f"{rendition.name}/seg_") and f.endswith(".ts") for f in on_disk)


def test_progress_rises_to_one(done: Transcoded) -> None:
    values = done.progress
    assert len(values) >= 2
    assert values == sorted(values)
    assert all(0 <= v <= 1 for v in values)
    assert values[-1] == 1.0 and values.count(1.0) == 1  # 1.0 only once it is all written


def test_rotated_phone_video_plays_upright(transcoded: Get) -> None:
    done = transcoded("rotated")
    segment = done.out_dir / "180p" / "seg_00000.ts"
    stream = ffprobe(segment, "-show_streams")["streams"][0]
    assert (stream["width"], stream["height"]) == (180, 320)
    assert not stream.get("side_data_list")  # rotated pixels, no rotation flag left


def test_high_frame_rates_are_kept(transcoded: Get) -> None:
    stream = ffprobe(transcoded("fps60").out_dir / "360p" / "seg_00000.ts", "-show_streams")
    assert stream["streams"][0]["r_frame_rate"] == "60/1"


def _size(image: Path) -> tuple[int, int]:
    stream = ffprobe(image, "-show_streams")["streams"][0]
    return stream["width"], stream["height"]
