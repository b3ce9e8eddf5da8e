#!/usr/bin/env python3
"""The HLS ladder in one ffmpeg pass versus one process per rung, and the whole
transcode pipeline (media engine + publish to S3) versus the plain ffmpeg command it runs.

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
               thread, master rewrite with measured bandwidths), nothing published.
pipeline       the same, then the set published the way the transcode job does it:
               `tasks.media_io.publish_set` (delete the job's prefix, then
               `put_files` of `files_to_put`: content types and cache headers from
               `db.media_types`, parallel uploads) into a `db.storage.S3Storage` made
               by `make_storage` for `s3://<bucket>/media`, on a moto S3 server this
               script starts on a loopback port (HTTP) and stops at the end. The
               publish step is also timed alone ("publish only"). After each
               pipeline run, outside the timing, the keys and the master's headers
               are checked and the prefix is deleted (moto keeps objects in memory).

Goals: (b)/(a) >= 1.2 and pipeline/(a) <= 1.15.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import benchlib  # puts this checkout first on sys.path

from db.media_types import MASTER_NAME, cache_control_for, content_type_for
from db.settings import Settings
from db.storage import S3Storage, make_storage
from tasks.media_io import publish_set
from workers.media.hls import LadderOutput, ladder_command, transcode
from workers.media.ladder import plan_ladder
from workers.media.probe import SourceInfo, probe

GOAL_PER_RUNG = 1.2
GOAL_ENGINE = 1.15
BUCKET = "cbrtl-bench"
Publish = Callable[[Path, LadderOutput], None]
Variant = Callable[[Path, SourceInfo, Path], dict[str, float]]


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


class S3Target:
    """Where the pipeline variant publishes: the job's publisher into the moto bucket,
    one job-like prefix per run (as `videos/<content>/j<job>` in tasks/media.py)."""

    def __init__(self, store: S3Storage) -> None:
        self.store = store
        self.count = 0
        self.last: tuple[str, list[str]] | None = None

    def publish(self, out: Path, output: LadderOutput) -> None:
        self.count += 1
        prefix = f"videos/1/j{self.count}"
        publish_set(self.store, out, output, prefix)
        self.last = (prefix, list(output.files))

    def check_and_clear(self) -> None:
        """Untimed: every file is there with the job's headers; then free moto's memory."""
        assert self.last is not None
        prefix, files = self.last
        keys = self.store.list_keys(prefix + "/")
        if sorted(keys) != sorted(f"{prefix}/{name}" for name in files):
            raise RuntimeError(f"published {len(keys)} keys under {prefix}, not {len(files)}")
        for name in (MASTER_NAME, files[-1]):
            head = self.store.client.head_object(
                Bucket=self.store.bucket, Key=self.store._key(f"{prefix}/{name}")
            )
            want = (content_type_for(name), cache_control_for(name))
            if (head.get("ContentType"), head.get("CacheControl")) != want:
                raise RuntimeError(f"{name}: headers {head.get('ContentType')!r}, "
                                   f"{head.get('CacheControl')!r}, expected {want}")  # fmt: skip
        self.store.delete_prefix(prefix)
        self.last = None


def pipeline_variant(target: S3Target) -> Variant:
    def pipeline(source: Path, info: SourceInfo, out: Path) -> dict[str, float]:
        timing: dict[str, float] = {}

        def publish(out_dir: Path, output: LadderOutput) -> None:
            started = time.perf_counter()
            target.publish(out_dir, output)
            timing["publish_s"] = time.perf_counter() - started
            timing["files"] = len(output.files)

        engine_run(source, out, publish)
        return timing

    return pipeline


def measure(
    source: Path, info: SourceInfo, reps: int, variants: dict[str, Variant], target: S3Target
) -> dict[str, list[dict[str, float]]]:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    names = list(variants)
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for name in order:
            load1 = os.getloadavg()[0]
            with tempfile.TemporaryDirectory(prefix=f"ladder_{name}_") as folder:
                ticks = benchlib.cpu_ticks()
                started = time.perf_counter()
                extra = variants[name](source, info, Path(folder))
                wall = time.perf_counter() - started
                busy = benchlib.cpu_busy_pct(ticks, benchlib.cpu_ticks())
                written = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
                if target.last is not None:
                    target.check_and_clear()
            runs[name].append(
                {"wall_s": wall, "cpu_pct": busy, "bytes": written, "load1": load1, **extra}
            )
            more = f", publish {extra['publish_s']:.2f} s" if "publish_s" in extra else ""
            benchlib.log(
                f"round {rep + 1}/{reps} {name}: {wall:.2f} s{more}, CPU {busy:.0f}%, "
                f"load1 before {load1:.2f}"
            )
    return runs


def report(
    runs: dict[str, list[dict[str, float]]],
    info: SourceInfo,
    source_mbps: float,
    args: Any,
    loads: tuple[float, float],
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

    ladder = plan_ladder(info)
    rungs = ", ".join(f"{r.name} {r.width}x{r.height} {r.video_kbps}k" for r in ladder)
    one = median("one_pass")
    per_rung_ratio = median("per_rung") / one
    rungs_ratio = median("per_rung", "rungs_s") / one
    engine_ratio = median("engine") / one
    pipeline_ratio = median("pipeline") / one
    publish = median("pipeline", "publish_s")
    load1 = [r["load1"] for name in runs for r in runs[name]]
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
            what=f"{len(ladder)} ffmpeg (one per rung) + 1 for poster + thumbnails, in sequence",
        ),
        row("(b) rungs only", "per_rung", "rungs_s", what="the rung processes of (b)"),
        row("engine", "engine", what="probe + plan_ladder + transcode, no publish"),
        row(
            "pipeline",
            "pipeline",
            what="engine + publish_set to S3 (moto on loopback): the whole job minus "
            "source download and database",
        ),
        row(
            "publish only",
            "pipeline",
            "publish_s",
            what="the publish_set step of the pipeline runs (delete prefix + parallel puts)",
        ),
        "",
        f"- pipeline/plain ffmpeg (a) = **{pipeline_ratio:.3f}** (goal <= {GOAL_ENGINE}); "
        f"engine without publish/(a) = {engine_ratio:.3f}",
        f"- (b)/(a) = **{per_rung_ratio:.2f}** (goal >= {GOAL_PER_RUNG}); "
        f"rungs only/(a) = {rungs_ratio:.2f}",
        f"- publish: {publish:.2f} s median, {100 * publish / median('pipeline'):.1f}% of "
        f"the pipeline's median; {median('pipeline', 'bytes') / 1e6:.1f} MB in "
        f"{median('pipeline', 'files'):.0f} files",
        f"- load1 before the runs: {min(load1):.2f}-{max(load1):.2f}; "
        f"at the start {loads[0]:.2f}, at the end {loads[1]:.2f}",
        "",
        f"Machine: nproc {machine['nproc']}; CPU {machine['cpu']}; memory {machine['memory']}; "
        f"kernel {machine['kernel']}; {ffmpeg_version()}; moto {moto_version()}; "
        f"code {machine['code']}.",
    ]
    return "\n".join(lines)


def ffmpeg_version() -> str:
    first = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout
    return first.splitlines()[0].split(" Copyright")[0] if first else "ffmpeg ?"


def moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="source length (>= 20)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    parser.set_defaults(cleanup_stale=False)
    args = parser.parse_args()
    results: dict[str, Any] = {}

    def body() -> str:
        procs = benchlib.Processes()
        load_start = os.getloadavg()[0]
        try:
            with tempfile.TemporaryDirectory(prefix="ladder_source_") as folder:
                moto_log = Path(folder) / "moto.log"
                with benchlib.moto_s3(procs, BUCKET, moto_log) as endpoint:
                    benchlib.log(f"moto S3 at {endpoint}, bucket {BUCKET}")
                    settings = Settings(
                        storage_url=f"s3://{BUCKET}/media", s3_endpoint_url=endpoint
                    )
                    store = make_storage(settings)
                    assert isinstance(store, S3Storage)
                    store.check()
                    target = S3Target(store)
                    variants: dict[str, Variant] = {
                        "one_pass": one_pass,
                        "per_rung": per_rung,
                        "engine": engine,
                        "pipeline": pipeline_variant(target),
                    }
                    source = Path(folder) / "source.mp4"
                    benchlib.log(f"generating a {args.seconds:g} s 1080p source")
                    make_source(source, args.seconds)
                    info = probe(source)
                    mbps = source.stat().st_size * 8 / info.duration_s / 1e6
                    runs = measure(source, info, args.reps, variants, target)
        finally:
            procs.stop_all()
        loads = (load_start, os.getloadavg()[0])
        results.update(runs=runs, source=info.__dict__, source_mbps=mbps, load1=loads)
        return report(runs, info, mbps, args, loads)

    return benchlib.guarded_main(args, body, lambda: json.loads(json.dumps(results)))


if __name__ == "__main__":
    raise SystemExit(main())
