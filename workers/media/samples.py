"""Short synthetic clips (ffmpeg's lavfi sources) for the demo catalogue and benchmarks."""

from __future__ import annotations

import subprocess
from pathlib import Path

# Moving, not trivially compressible patterns, so a sample exercises the encoder.
PATTERNS = (
    "testsrc2=size={size}:rate=30",
    "mandelbrot=size={size}:rate=30",
    "life=size={size}:rate=30:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00",
    "cellauto=size={size}:rate=30:rule=18",
    "smptehdbars=size={size}:rate=30",
)


def make_sample_clip(
    path: Path,
    *,
    seconds: float = 8.0,
    size: str = "1280x720",
    pattern: int = 0,
    audio: bool = True,
    preset: str = "veryfast",
    faststart: bool = True,
) -> Path:
    """Write an H.264 (+ AAC tone) MP4 of the chosen pattern to `path`. Without
    `faststart` the index (moov) goes at the end, as ffmpeg writes by default."""
    source = PATTERNS[pattern % len(PATTERNS)].format(size=size)
    args = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", f"{source},format=yuv420p", "-t", f"{seconds}"]
    if audio:
        args += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={220 * (1 + pattern % 4)}",
            "-t",
            f"{seconds}",
        ]
        args += ["-c:a", "aac", "-b:a", "96k"]
    args += ["-c:v", "libx264", "-preset", preset, "-crf", "23"]
    args += ["-movflags", "+faststart"] if faststart else []
    done = subprocess.run([*args, str(path)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make a sample clip: {done.stderr.strip()[-500:]}")
    return path
