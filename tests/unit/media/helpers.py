"""Readers the media tests share: ffprobe as JSON, playlists, child processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from workers.media.hls import LadderOutput, transcode
from workers.media.ladder import plan_ladder
from workers.media.probe import SourceInfo, probe


def ffmpeg(*args: str) -> None:
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def ffprobe(path: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", *args, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def video_packet_flags(segment: Path) -> list[str]:
    """The flags ('K_', '__', ...) of every video packet of a segment, in order."""
    report = ffprobe(segment, "-select_streams", "v:0", "-show_entries", "packet=flags")
    return [p["flags"] for p in report["packets"]]


def stream_inf(master: Path) -> dict[str, dict[str, str]]:
    """uri -> attributes of every #EXT-X-STREAM-INF of a master playlist."""
    variants: dict[str, dict[str, str]] = {}
    pending: dict[str, str] | None = None
    for line in master.read_text().splitlines():
        if line.startswith("#EXT-X-STREAM-INF:"):
            found = re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.partition(":")[2])
            pending = {k: v.strip('"') for k, v in found}
        elif line and not line.startswith("#") and pending is not None:
            variants[line] = pending
            pending = None
    return variants


def ffmpeg_children(parent: int | None = None) -> list[int]:
    """ffmpeg processes whose parent is `parent` (this test process by default), from
    /proc; zombies count: a child nobody reaped is left behind too."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        state = process_state(int(entry.name))
        if state and state[0] == "ffmpeg" and state[2] == parent:
            found.append(int(entry.name))
    return found


def process_state(pid: int) -> tuple[str, str, int] | None:
    """(name, state letter, parent pid) of a process, None when it has gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
    return name, state, int(ppid)


class Transcoded:
    """A clip through probe, plan_ladder and transcode, with what progress said."""

    def __init__(self, source: Path, out_dir: Path) -> None:
        self.source = source
        self.out_dir = out_dir
        self.info: SourceInfo = probe(source)
        self.rungs = plan_ladder(self.info)
        self.progress: list[float] = []
        self.output: LadderOutput = transcode(
            source, self.info, self.rungs, out_dir, on_progress=self.progress.append
        )
