"""A transcode's working folder: the rerun clears what its killed attempt left, and never
the folder of the same job id on another platform sharing the machine."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tasks import media_io


def platform(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setattr(
        media_io, "settings", lambda: SimpleNamespace(resolved_database_url=database_url)
    )


def test_a_rerun_clears_its_own_leftovers_but_not_another_platforms(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    platform(monkeypatch, "sqlite:////srv/a/cbrtl.db")
    with media_io.working_folder(7) as first:
        (first / "source").write_bytes(b"a's source")
        platform(monkeypatch, "sqlite:////srv/b/cbrtl.db")
        with media_io.working_folder(7) as other:  # job 7 of another platform
            assert other != first
            assert (first / "source").read_bytes() == b"a's source"
    assert not first.exists() and not other.exists()

    platform(monkeypatch, "sqlite:////srv/a/cbrtl.db")
    with media_io.working_folder(8) as attempt:
        # What a killed attempt leaves: a folder of the same name pattern, never removed.
        killed = attempt.with_name(attempt.name + "-killed")
        killed.mkdir()
    assert killed.exists() and not attempt.exists()
    with media_io.working_folder(8):
        assert not killed.exists()  # the rerun removed it
