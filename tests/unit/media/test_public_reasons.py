"""What the engine tells a person (`reason`) and what it keeps for an operator
(`detail`): a reason names no path and quotes no ffmpeg or ffprobe output."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from workers.media.hls import TranscodeFailed, transcode
from workers.media.ladder import plan_ladder
from workers.media.probe import UnplayableSource, probe
from workers.media.process import failure_reason

TOOL_WORDS = ("ffmpeg", "ffprobe", "Error", "error", "Invalid data", "moov", "matches no")


def assert_public(reason: str, *paths: Path) -> None:
    """A sentence for people: no file names, no tool output."""
    assert reason.endswith(".") and reason[0].isupper()
    assert "/" not in reason and "\\" not in reason, reason
    for path in paths:
        assert path.name not in reason and path.parent.name not in reason, reason
    for word in TOOL_WORDS:
        assert word not in reason, reason


@pytest.mark.parametrize("clip", ["truncated", "text"])
def test_a_source_ffprobe_refuses_keeps_its_output_as_detail(
    clips: dict[str, Path], tmp_path: Path, clip: str
) -> None:
    # Named like the worker's working folder names it: a path a reason must not show.
    source = tmp_path / "cbrtl-transcode-7-secret" / "source"
    source.parent.mkdir()
    source.write_bytes(clips[clip].read_bytes())
    with pytest.raises(UnplayableSource) as caught:
        probe(source)
    assert_public(caught.value.reason, source)
    assert str(caught.value) == caught.value.reason
    assert caught.value.detail  # ffprobe's own words, for the job's error
    assert caught.value.detail != caught.value.reason


def test_an_unreadable_source_names_its_path_only_in_the_detail(tmp_path: Path) -> None:
    missing = tmp_path / "cbrtl-transcode-8-secret" / "source"
    with pytest.raises(UnplayableSource) as caught:
        probe(missing)
    assert_public(caught.value.reason, missing)
    assert str(missing) in caught.value.detail


def test_a_failing_ffmpeg_says_a_sentence_and_keeps_its_stderr(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    source = tmp_path / "cbrtl-transcode-9-secret" / "source"
    source.parent.mkdir()
    source.write_bytes(clips["no_audio"].read_bytes())
    info = probe(source)
    claims_audio = dataclasses.replace(info, has_audio=True)  # the file has none
    with pytest.raises(TranscodeFailed) as caught:
        transcode(source, claims_audio, plan_ladder(info), tmp_path / "out")
    assert caught.value.reason == "The video could not be transcoded."
    assert_public(caught.value.reason, source)
    assert "exit status" in caught.value.detail
    assert "matches no streams" in caught.value.detail


@pytest.mark.parametrize(
    "tail",
    [
        ["[in#0 @ 0x55] Error opening input: /tmp/cbrtl-transcode-3-x/source: I/O error"],
        ["Conversion failed!"],
        [],
    ],
)
def test_unrecognised_ffmpeg_failures_have_a_plain_reason(tail: list[str]) -> None:
    reason = failure_reason(1, tail)
    assert reason == "The video could not be transcoded."
    assert_public(reason)


def test_every_engine_reason_is_public() -> None:
    for reason in (
        failure_reason(-9, []),
        failure_reason(1, ["No space left on device: /tmp/cbrtl-transcode-3-x/out/720p"]),
        TranscodeFailed("The video could not be transcoded.", ["a", "b"]).reason,
    ):
        assert_public(reason)
    failed = TranscodeFailed("The video could not be transcoded.", ["line 1", "line 2"])
    assert failed.detail == "line 1\nline 2"
