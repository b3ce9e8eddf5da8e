"""What every store offers, and the description of one file to publish."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class FileToPut:
    key: str
    path: Path
    content_type: str
    cache_control: str | None = None


class Storage(Protocol):
    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def put_files(self, files: list[FileToPut], *, workers: int = 8) -> None: ...
    def download(self, key: str, dest: Path) -> Path: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def local_path(self, key: str) -> Path | None:
        """The file behind a key, for stores the web serves itself; None for remote ones."""
        ...

    def signed_url(self, key: str, *, expires_s: int) -> str | None:
        """A time-limited URL a browser can fetch directly; None for local stores."""
        ...

    # Resumable uploads: start, write parts in order, finish (or abort).
    def start_parts(self, key: str) -> str | None: ...
    def write_part(
        self,
        key: str,
        upload_ref: str | None,
        *,
        number: int,
        offset: int,
        body: BinaryIO,
        length: int,
    ) -> str: ...
    def finish_parts(
        self, key: str, upload_ref: str | None, parts: list[tuple[int, str]]
    ) -> None: ...
    def abort_parts(self, key: str, upload_ref: str | None) -> None: ...
    def check(self) -> None: ...
