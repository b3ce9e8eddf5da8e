"""Storage in a local folder (the embedded default); the web serves it itself."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from db.storage.protocol import FileToPut

PARTIAL_SUFFIX = ".partial"
COPY_BLOCK = 1024 * 1024


def _unless_gone(_func: object, _path: str, exc_info: tuple[type, BaseException, object]) -> None:
    # Removed by someone else meanwhile is done; anything else (permissions, a full or
    # failing disk) must fail the caller, so that a job retries it.
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]


class FileStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()) or path == self.root.resolve():
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    def _write_atomically(self, path: Path, write: BinaryIO | bytes | Path) -> None:
        # Write then rename, so a reader never sees half a file.
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
            if isinstance(write, bytes):
                tmp.write(write)
            elif isinstance(write, Path):
                with write.open("rb") as source:
                    shutil.copyfileobj(source, tmp, COPY_BLOCK)
            else:
                shutil.copyfileobj(write, tmp, COPY_BLOCK)
        os.replace(tmp.name, path)

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        self._write_atomically(self._path(key), data)

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def put_files(self, files: list[FileToPut], *, workers: int = 8) -> None:
        for item in files:  # local disk: threads would only contend
            self._write_atomically(self._path(item.key), item.path)

    def download(self, key: str, dest: Path) -> Path:
        shutil.copyfile(self._path(key), dest)
        return dest

    def list_keys(self, prefix: str) -> list[str]:
        base = self._path(prefix.rstrip("/"))
        if not base.is_dir():
            return []
        root = self.root.resolve()
        return sorted(str(p.relative_to(root)) for p in base.rglob("*") if p.is_file())

    def delete_prefix(self, prefix: str) -> int:
        base = self._path(prefix.rstrip("/"))
        if not base.is_dir():
            return 0
        count = sum(1 for p in base.rglob("*") if p.is_file())
        shutil.rmtree(base, onerror=_unless_gone)
        return count

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def signed_url(self, key: str, *, expires_s: int) -> str | None:
        return None

    def start_parts(self, key: str) -> str | None:
        partial = self._path(key + PARTIAL_SUFFIX)
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.touch()
        return None

    def write_part(
        self,
        key: str,
        upload_ref: str | None,
        *,
        number: int,
        offset: int,
        body: BinaryIO,
        length: int,
    ) -> str:
        with self._path(key + PARTIAL_SUFFIX).open("r+b") as partial:
            partial.seek(offset)
            shutil.copyfileobj(body, partial, COPY_BLOCK)
            partial.truncate(offset + length)
        return str(number)

    def finish_parts(self, key: str, upload_ref: str | None, parts: list[tuple[int, str]]) -> None:
        os.replace(self._path(key + PARTIAL_SUFFIX), self._path(key))

    def abort_parts(self, key: str, upload_ref: str | None) -> None:
        self._path(key + PARTIAL_SUFFIX).unlink(missing_ok=True)

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise OSError(f"storage folder {self.root} is not writable")
