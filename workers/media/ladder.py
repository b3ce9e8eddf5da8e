"""Which renditions to make of a source: the HLS ladder, named by the short side."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from workers.media.probe import SourceInfo

# (short side, video kbps for 16:9 at 30 fps, audio kbps): H.264 figures in the range
# of Apple's HLS authoring table, a little lower because uploads are mostly talk.
STANDARD_RUNGS = (
    (240, 400, 64),
    (360, 800, 96),
    (480, 1400, 96),
    (720, 2800, 128),
    (1080, 5000, 128),
)
MAX_FPS = 60.0  # of the renditions
STANDARD_RATES = tuple(
    Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60")
)
HIGH_FPS = 40.0  # above this, motion costs more bits
HIGH_FPS_FACTOR = 1.5


@dataclass(frozen=True)
class Rung:
    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int  # 0 when the source has no audio


def plan_ladder(source: SourceInfo) -> list[Rung]:
    """Standard rungs no bigger than the source (smallest first), portrait kept
    portrait; a source smaller than the smallest rung gets one rung of its own size."""
    short, long = sorted((source.width, source.height))
    fitting = [row for row in STANDARD_RUNGS if row[0] <= short]
    if not fitting:
        base = STANDARD_RUNGS[0]
        fitting = [(_floor_even(short), base[1], base[2])]
    rungs = []
    for rung_short, base_kbps, audio_kbps in fitting:
        rung_long = min(_floor_even(long), 2 * round(rung_short * long / short / 2))
        reference = rung_short * 2 * round(rung_short * 16 / 9 / 2)
        area = max(0.25, min(1.5, rung_short * rung_long / reference))
        motion = HIGH_FPS_FACTOR if source.fps > HIGH_FPS else 1.0
        width, height = (
            (rung_long, rung_short) if source.width >= source.height else (rung_short, rung_long)
        )
        rungs.append(
            Rung(
                name=f"{rung_short}p",
                width=width,
                height=height,
                video_kbps=int(round(base_kbps * area * motion, -1)),
                audio_kbps=audio_kbps if source.has_audio else 0,
            )
        )
    return rungs


def output_fps(info: SourceInfo) -> Fraction:
    """The constant frame rate of every rung. Constant because ffmpeg 5.1's hls muxer
    sums nominal packet durations for the last segment's EXTINF, which variable-rate
    timing gets wrong; duplicated frames cost x264 next to nothing. Above 60 fps keep
    every n-th frame (120 -> 60, 90 -> 45), which never judders; near a standard
    rate, use it exactly (29.97 is 30000/1001, not 2997/100)."""
    fps = info.fps / math.ceil(info.fps / MAX_FPS) if info.fps > MAX_FPS + 0.5 else info.fps
    nearest = min(STANDARD_RATES, key=lambda rate: abs(rate - Fraction(fps)))
    if abs(nearest - Fraction(fps)) <= nearest / 100:
        return nearest
    return Fraction(fps).limit_denominator(1001)


def fit_within(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) scaled down so the long side is at most `long_side` (never
    up), both even, aspect ratio kept."""
    scale = min(1.0, long_side / max(width, height))
    return max(2, _floor_even(round(width * scale))), max(2, _floor_even(round(height * scale)))


def _floor_even(value: float) -> int:
    return max(2, int(value) // 2 * 2)
