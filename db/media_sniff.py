"""Is this a video container? Decided from a file's first bytes, never from its name."""

from __future__ import annotations

TS_PACKET = 188

# (offset, signature) pairs of the containers a transcode accepts.
SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4, MOV, M4V, 3GP
    (4, b"moov"),  # old QuickTime without ftyp
    (4, b"mdat"),
    (4, b"wide"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM (EBML)
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"FLV\x01"),
    (0, b"OggS"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"),  # ASF / WMV
)


def _is_avi(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] in {b"AVI ", b"AVIX"}


def _is_mpeg_ts(head: bytes) -> bool:
    # Sync bytes at the start of three consecutive 188-byte packets.
    offsets = range(0, 3 * TS_PACKET, TS_PACKET)
    return len(head) >= 2 * TS_PACKET + 1 and all(head[o] == 0x47 for o in offsets if o < len(head))


def looks_like_video(head: bytes) -> bool:
    """True when `head` (a file's first bytes, ideally 4 KiB) starts a video container."""
    if any(head[offset : offset + len(sig)] == sig for offset, sig in SIGNATURES):
        return True
    return _is_avi(head) or _is_mpeg_ts(head)
