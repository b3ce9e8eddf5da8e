"""Object storage: a folder locally, S3 (or any S3-compatible store) in production.

Both speak the same small protocol (db/storage/protocol.py), resumable uploads
included: S3 multipart parts remotely, writes at an offset into a partial file locally.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from db.settings import Settings
from db.storage.local import FileStorage
from db.storage.protocol import FileToPut, Storage
from db.storage.s3 import S3Storage


def make_storage(settings: Settings) -> Storage:
    url = urlsplit(settings.resolved_storage_url)
    if url.scheme == "s3":
        return S3Storage(url.netloc, url.path, settings.s3_endpoint_url)
    return FileStorage(Path(url.path))


__all__ = ["FileStorage", "FileToPut", "S3Storage", "Storage", "make_storage"]
