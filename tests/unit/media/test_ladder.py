from __future__ import annotations

import pytest

from workers.media.ladder import Rung, fit_within, plan_ladder
from workers.media.probe import SourceInfo


def source(width: int, height: int, *, fps: float = 30.0, audio: bool = True) -> SourceInfo:
    return SourceInfo(width, height, 60.0, fps, audio, "h264")


def sizes(rungs: list[Rung]) -> list[tuple[str, int, int]]:
    return [(r.name, r.width, r.height) for r in rungs]


def test_full_hd_gets_the_whole_ladder() -> None:
    assert sizes(plan_ladder(source(1920, 1080))) == [
        ("240p", 426, 240), ("360p", 640, 360), ("480p", 854, 480),
        ("720p", 1280, 720), ("1080p", 1920, 1080),
    ]  # fmt: skip


def test_portrait_stays_portrait_named_by_the_short_side() -> None:
    assert sizes(plan_ladder(source(720, 1280))) == [
        ("240p", 240, 426), ("360p", 360, 640), ("480p", 480, 854), ("720p", 720, 1280),
    ]  # fmt: skip


def test_no_rung_is_bigger_than_the_source() -> None:
    for width, height in [(641, 361), (1280, 544), (3840, 2160), (855, 480), (1080, 1080)]:
        rungs = plan_ladder(source(width, height))
        assert rungs
        for rung in rungs:
            assert rung.width % 2 == 0 and rung.height % 2 == 0
            assert rung.width <= width and rung.height <= height


def test_odd_sizes_round_to_even() -> None:
    assert sizes(plan_ladder(source(641, 361))) == [("240p", 426, 240), ("360p", 640, 360)]


def test_4k_stops_at_1080p() -> None:
    assert plan_ladder(source(3840, 2160))[-1].name == "1080p"


def test_a_tiny_source_gets_one_rung_of_its_own_size() -> None:
    assert sizes(plan_ladder(source(200, 150))) == [("150p", 200, 150)]
    assert sizes(plan_ladder(source(201, 151))) == [("150p", 200, 150)]
    assert sizes(plan_ladder(source(180, 320))) == [("180p", 180, 320)]


def test_bitrates_rise_with_size_and_frame_rate() -> None:
    rungs = plan_ladder(source(1920, 1080))
    kbps = [r.video_kbps for r in rungs]
    assert kbps == sorted(kbps) and len(set(kbps)) == len(kbps)
    assert kbps[-1] == 5000
    fast = plan_ladder(source(1920, 1080, fps=60))
    assert [r.video_kbps for r in fast] == [round(k * 1.5) for k in kbps]
    square = plan_ladder(source(1080, 1080))[-1]
    assert square.video_kbps < 5000  # fewer pixels than 16:9 at the same short side


def test_audio_bitrate_is_zero_without_audio() -> None:
    assert all(r.audio_kbps > 0 for r in plan_ladder(source(1280, 720)))
    assert all(r.audio_kbps == 0 for r in plan_ladder(source(1280, 720, audio=False)))


@pytest.mark.parametrize(
    ("size", "long_side", "fitted"),
    [((1920, 1080), 1280, (1280, 720)), ((720, 1280), 1280, (720, 1280)),
     ((641, 361), 320, (320, 180)), ((200, 150), 1280, (200, 150)), ((201, 151), 1280, (200, 150))],
)  # fmt: skip
def test_fit_within(size: tuple[int, int], long_side: int, fitted: tuple[int, int]) -> None:
    assert fit_within(*size, long_side) == fitted
