"""Is this a video container? Decided from a file's first bytes, never from its name.

Pure format knowledge, shared by the upload path (web, db) and the media engine: a
cheap gate before ffprobe (and a way to tell "not a video" from "a damaged
video" when ffprobe fails). It looks at signatures only; ffprobe has the last word.
"""

from __future__ import annotations

HEAD_BYTES = 4096  # how much of the file callers should pass, at least

# ISO-BMFF major brands that are audio or still images, not video.
_NON_VIDEO_BRANDS = {
    b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ",
    b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis", b"jp2 ", b"crx ",
}  # fmt: skip
# Top-level atoms an old QuickTime file (no 'ftyp') may start with.
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_TS_PACKET = 188
_M2TS_PACKET = 192  # AVCHD/Blu-ray: a 4-byte timestamp before each TS packet
# Ogg first-packet prefixes of video codecs (Theora, Dirac, OGM video, VP8 in Ogg).
_OGG_VIDEO = (b"\x80theora", b"BBCD\x00", b"\x01video", b"OVP80")
# ASF (WMV): the header object's GUID, and the stream type GUID of a video stream.
_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_ASF_VIDEO = bytes.fromhex("c0ef19bc4d5bcf11a8fd00805f5c442b")


def looks_like_video(head: bytes) -> bool:
    """True when `head` (the file's first bytes, ideally HEAD_BYTES of them) starts
    like MP4/MOV/M4V/3GP, Matroska/WebM, AVI, MPEG-TS/M2TS, MPEG-PS, FLV, Ogg video
    or WMV."""
    checks = (_iso_bmff, _matroska, _avi, _mpeg_ts, _mpeg_ps, _flv, _ogg_video, _asf_video)
    return any(check(head) for check in checks)


def _iso_bmff(head: bytes) -> bool:
    if len(head) < 12:
        return False
    kind = head[4:8]
    if kind == b"ftyp":
        return head[8:12] not in _NON_VIDEO_BRANDS
    size = int.from_bytes(head[:4], "big")
    return kind in _QT_ATOMS and (size in (0, 1) or size >= 8)


def _matroska(head: bytes) -> bool:
    return head.startswith(b"\x1a\x45\xdf\xa3")


def _avi(head: bytes) -> bool:
    return len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX")


def _mpeg_ts(head: bytes) -> bool:
    # A sync byte at the start of every packet present (three when the head is long
    # enough); one 0x47 alone is too weak a signature.
    for size, offset in ((_TS_PACKET, 0), (_M2TS_PACKET, 4)):
        starts = range(offset, min(len(head), offset + 3 * size), size)
        if len(starts) >= 2 and all(head[i] == 0x47 for i in starts):
            return True
    return False


def _mpeg_ps(head: bytes) -> bool:
    return head.startswith(b"\x00\x00\x01\xba")


def _flv(head: bytes) -> bool:
    return len(head) >= 9 and head[:3] == b"FLV" and head[3] == 1


def _ogg_video(head: bytes) -> bool:
    """Ogg is often audio only: accept it when a beginning-of-stream page in the head
    announces a video codec (all BOS pages come before any data page)."""
    pos = 0
    while head.startswith(b"OggS", pos) and pos + 27 <= len(head):
        flags, segments = head[pos + 5], head[pos + 26]
        body = pos + 27 + segments
        if body > len(head):
            return False
        if not flags & 0x02:  # past the BOS pages
            return False
        if head[body:].startswith(_OGG_VIDEO):
            return True
        pos = body + sum(head[pos + 27 : body])
    return False


def _asf_video(head: bytes) -> bool:
    # The header object (stream properties included) comes first; WMA has no video.
    return head.startswith(_ASF_HEADER) and _ASF_VIDEO in head
