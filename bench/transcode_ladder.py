#!/usr/bin/env python3
"""The HLS ladder in one ffmpeg pass versus one process per rung, and the media engine
versus the plain ffmpeg command it runs.

    .venv/bin/python bench/transcode_ladder.py [--seconds 20] [--reps 3] [--json out.json]

A 1080p30 source with sound is generated first (testsrc2 with temporal noise, so it
is not trivially compressible, encoded at about a phone's bitrate). Then, repetitions
interleaved (the order rotates each round) and the median of each reported:

(a) one pass   `ladder_command` run with subprocess: one ffmpeg decodes the source
               once and writes every rung, the poster and the thumbnails. This is
               also the "plain ffmpeg" that the engine is compared with.
(b) per rung   one ffmpeg per rung, each decoding the source itself with the same
               encoder settings (`ladder_command(..., [rung], images=False)`), then
               one more for the poster and thumbnails, sequentially; (b) rungs is
               the rung processes alone.
engine         `probe` + `plan_ladder` + `transcode` (progress parsing, stderr
               thread, master rewrite with measured bandwidths), plus `publish`
               when one is given (see engine_run; the S3 upload plugs in there).

Goals: (b)/(a) >= 1.2 and engine/(a) <= 1.15.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib  # puts this checkout first on sys.path

from workers.media.hls import LadderOutput, ladder_command, transcode
from workers.media.ladder import plan_ladder
from workers.media.probe import SourceInfo, probe

GOAL_PER_RUNG = 1.2
GOAL_ENGINE = 1.15
Publish = Callable[[Path, LadderOutput], None]


def make_source(path: Path, seconds: float) -> None:
    """1080p30 H.264 at ~16 Mbit/s with grain, 128k AAC tone: what a phone uploads."""
    video = f"testsrc2=size=1920x1080:rate=30:duration={seconds},noise=alls=6:allf=t"
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", f"sine=f=440:d={seconds}",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-b:v", "16M", "-maxrate", "20M", "-bufsize", "32M",
            "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(path)]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=1800)


def run_plain(argv: list[str]) -> None:
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {done.stderr.decode(errors='replace')[-2000:]}")


def one_pass(source: Path, info: SourceInfo, out: Path) -> dict[str, float]:
    run_plain(ladder_command(source, info, plan_ladder(info), out))
    return {}


def per_rung(source: Path, info: SourceInfo, out: Path) -> dict[str, float]:
    started = time.perf_counter()
    for rung in plan_ladder(info):
        run_plain(ladder_command(source, info, [rung], out / rung.name, images=False))
    rungs_s = time.perf_counter() - started
    run_plain(ladder_command(source, info, [], out / "images"))
    return {"rungs_s": rungs_s}


def engine_run(source: Path, out: Path, publish: Publish | None = None) -> LadderOutput:
    """What the media task does with the engine: probe, plan, transcode, publish."""
    info = probe(source)
    output = transcode(source, info, plan_ladder(info), out, on_progress=lambda _: None)
    if publish is not None:
        publish(out, output)
    return output


def engine(source: Path, info: SourceInfo, out: Path) -> dict[str, float]:
    engine_run(source, out)
    return {}


VARIANTS: dict[str, Callable[[Path, SourceInfo, Path], dict[str, float]]] = {
    "one_pass": one_pass,
    "per_rung": per_rung,
    "engine": engine,
}


def measure(source: Path, info: SourceInfo, reps: int) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            with tempfile.TemporaryDirectory(prefix=f"ladder_{name}_") as folder:
                ticks = benchlib.cpu_ticks()
                started = time.perf_counter()
                extra = VARIANTS[name](source, info, Path(folder))
                wall = time.perf_counter() - started
                busy = benchlib.cpu_busy_pct(ticks, benchlib.cpu_ticks())
                written = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
            runs[name].append({"wall_s": wall, "cpu_pct": busy, "bytes": written, **extra})
            benchlib.log(f"round {rep + 1}/{reps} {name}: {wall:.2f} s, CPU {busy:.0f}%")
    return runs


def report(
    runs: dict[str, list[dict[str, float]]], info: SourceInfo, source_mbps: float, args: Any
) -> str:
    def median(name: str, key: str = "wall_s") -> float:
        return statistics.median(r[key] for r in runs[name])

    def row(label: str, name: str, key: str = "wall_s", what: str = "") -> str:
        values = [r[key] for r in runs[name]]
        mid = statistics.median(values)
        cells = [label, what, f"{mid:.2f}", " / ".join(f"{v:.2f}" for v in values),
                 f"{info.duration_s / mid:.2f}",
                 f"{median(name, 'cpu_pct'):.0f}%" if key == "wall_s" else "-",
                 f"{median(name, 'bytes') / 1e6:.1f}" if key == "wall_s" else "-"]  # fmt: skip
        return "| " + " | ".join(cells) + " |"

    rungs = ", ".join(f"{r.name} {r.width}x{r.height} {r.video_kbps}k" for r in plan_ladder(info))
    per_rung_ratio = median("per_rung") / median("one_pass")
    rungs_ratio = median("per_rung", "rungs_s") / median("one_pass")
    engine_ratio = median("engine") / median("one_pass")
    machine = benchlib.machine_info()
    lines = [
        f"Source: {info.width}x{info.height} {info.fps:g} fps, {info.duration_s:g} s, "
        f"H.264 {source_mbps:.1f} Mbit/s + AAC; ladder: {rungs}; segments 4 s, "
        f"preset veryfast; median of {args.reps} interleaved rounds.",
        "",
        "| run | what | median s | runs (s) | video s per wall s | CPU busy | MB written |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: |",
        row("(a) one pass", "one_pass", what="one ffmpeg: every rung + poster + thumbnails"),
        row(
            "(b) per rung",
            "per_rung",
            what=f"{len(plan_ladder(info))} ffmpeg (one per rung) "
            "+ 1 for poster + thumbnails, in sequence",
        ),
        row("(b) rungs only", "per_rung", "rungs_s", what="the rung processes of (b)"),
        row("engine", "engine", what="probe + plan_ladder + transcode (progress, master rewrite)"),
        "",
        f"- (b)/(a) = **{per_rung_ratio:.2f}** (goal >= {GOAL_PER_RUNG}); "
        f"rungs only / (a) = {rungs_ratio:.2f}",
        f"- engine/plain ffmpeg (a) = **{engine_ratio:.3f}** (goal <= {GOAL_ENGINE})",
        "",
        f"Machine: nproc {machine['nproc']}; CPU {machine['cpu']}; memory {machine['memory']}; "
        f"kernel {machine['kernel']}; {ffmpeg_version()}; code {machine['code']}.",
    ]
    return "\n".join(lines)


def ffmpeg_version() -> str:
    first = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout
    return first.splitlines()[0].split(" Copyright")[0] if first else "ffmpeg ?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="source length (>= 20)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    parser.set_defaults(cleanup_stale=False)
    args = parser.parse_args()
    results: dict[str, Any] = {}

    def body() -> str:
        with tempfile.TemporaryDirectory(prefix="ladder_source_") as folder:
            source = Path(folder) / "source.mp4"
            benchlib.log(f"generating a {args.seconds:g} s 1080p source")
            make_source(source, args.seconds)
            info = probe(source)
            mbps = source.stat().st_size * 8 / info.duration_s / 1e6
            runs = measure(source, info, args.reps)
        results.update(runs=runs, source=info.__dict__, source_mbps=mbps)
        return report(runs, info, mbps, args)

    return benchlib.guarded_main(args, body, lambda: json.loads(json.dumps(results)))


if __name__ == "__main__":
    raise SystemExit(main())
