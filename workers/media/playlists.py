"""Read the playlists ffmpeg wrote and write the master playlist we publish.

ffmpeg 5.1's master puts BANDWIDTH at 1.1 x the nominal bitrates; the HLS spec
(RFC 8216, 4.3.4.2) wants the peak segment bitrate, so we measure it from the
segments and rewrite the master with it and AVERAGE-BANDWIDTH. CODECS comes from
ffmpeg's master when it wrote one, else from the SPS in the first segment.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

AAC_LC = "mp4a.40.2"
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
_TS_PACKET = 188


@dataclass(frozen=True)
class Variant:
    uri: str  # relative to the master
    bandwidth: int
    average_bandwidth: int
    width: int
    height: int
    frame_rate: float
    codecs: str


def segments(playlist: Path) -> list[tuple[float, str]]:
    """(duration, uri) of every segment of a media playlist, in order."""
    found: list[tuple[float, str]] = []
    duration: float | None = None
    for line in playlist.read_text().splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            found.append((duration, line))
            duration = None
    return found


def bandwidths(playlist: Path, target_s: float) -> tuple[int, int]:
    """(peak, average) bits per second of a media playlist's segments, measured on the
    files. Peak as RFC 8216 defines it: the highest rate of any run of consecutive
    segments lasting 0.5 to 1.5 target durations (the whole video when shorter)."""
    parts = [(d, (playlist.parent / uri).stat().st_size * 8) for d, uri in segments(playlist)]
    total_s = sum(d for d, _ in parts)
    total_bits = sum(b for _, b in parts)
    average = total_bits / total_s if total_s > 0 else 0.0
    peak = 0.0
    for start in range(len(parts)):
        seconds = bits = 0.0
        for d, b in parts[start:]:
            seconds, bits = seconds + d, bits + b
            if seconds > 1.5 * target_s:
                break
            if seconds >= 0.5 * target_s:
                peak = max(peak, bits / seconds)
    return math.ceil(max(peak, average)), round(average)


def master_codecs(master: Path) -> dict[str, str]:
    """uri -> CODECS of each variant in a master playlist ('' when it has none)."""
    codecs: dict[str, str] = {}
    attributes: dict[str, str] | None = None
    for line in master.read_text().splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-STREAM-INF:"):
            attributes = dict(_ATTRIBUTE.findall(line.partition(":")[2]))
        elif line and not line.startswith("#") and attributes is not None:
            codecs[line] = attributes.get("CODECS", "").strip('"')
            attributes = None
    return codecs


def write_master(path: Path, variants: list[Variant]) -> None:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in variants:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={v.bandwidth},AVERAGE-BANDWIDTH={v.average_bandwidth},"
            f'RESOLUTION={v.width}x{v.height},FRAME-RATE={v.frame_rate:.3f},CODECS="{v.codecs}"'
        )
        lines.append(v.uri)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def avc_codec_from_ts(segment: Path) -> str | None:
    """'avc1.PPCCLL' from the first H.264 SPS in an MPEG-TS file: profile_idc,
    the constraint flags and level_idc, as RFC 6381 spells them."""
    es = bytearray()
    video_pid = None
    with segment.open("rb") as file:
        data = file.read(512 * _TS_PACKET)
    for at in range(0, len(data) - _TS_PACKET + 1, _TS_PACKET):
        packet = data[at : at + _TS_PACKET]
        if packet[0] != 0x47 or not packet[3] & 0x10:  # lost sync, or no payload
            continue
        pid = (packet[1] & 0x1F) << 8 | packet[2]
        start = 4 + (packet[4] + 1 if packet[3] & 0x20 else 0)  # skip the adaptation field
        payload = packet[start:]
        if packet[1] & 0x40 and payload[:3] == b"\x00\x00\x01":  # a PES begins
            if video_pid is None and 0xE0 <= payload[3] <= 0xEF:
                video_pid = pid
            if pid == video_pid:
                payload = payload[9 + payload[8] :]  # skip the PES header
        if pid != video_pid:
            continue
        es += payload
        match = re.search(rb"\x00\x00\x01[\x27\x47\x67](...)", es, re.S)
        if match:
            profile, flags, level = match.group(1)
            return f"avc1.{profile:02x}{flags:02x}{level:02x}"
    return None
