"""Storage in S3 or any S3-compatible store (MinIO, moto), through boto3."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from db.storage.protocol import FileToPut

DELETE_BATCH = 1000  # S3's limit per DeleteObjects call


class S3Storage:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            # Enough connections for put_files' threads; clients are thread-safe.
            config=Config(
                connect_timeout=2,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=16,
            ),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _unkey(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
        )

    def get_bytes(self, key: str) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        return bytes(body.read())

    def _put_file(self, item: FileToPut) -> None:
        extra = {"ContentType": item.content_type}
        if item.cache_control:
            extra["CacheControl"] = item.cache_control
        self.client.upload_file(str(item.path), self.bucket, self._key(item.key), ExtraArgs=extra)

    def put_files(self, files: list[FileToPut], *, workers: int = 8) -> None:
        # Many small segments: latency-bound, so parallel requests pay off.
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for done in [pool.submit(self._put_file, item) for item in files]:
                done.result()  # the first failure propagates

    def download(self, key: str, dest: Path) -> Path:
        self.client.download_file(self.bucket, self._key(key), str(dest))
        return dest

    def list_keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        return sorted(self._unkey(o["Key"]) for page in pages for o in page.get("Contents", []))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the folder `prefix`, and abort its unfinished
        multipart uploads (their parts are stored, and billed, but never listed)."""
        folder = prefix.rstrip("/") + "/"
        aborted = self._abort_uploads(folder)
        keys = [self._key(k) for k in self.list_keys(folder)]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
        return aborted + len(keys)

    def _abort_uploads(self, folder: str) -> int:
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self._key(folder)
        )
        unfinished = [(u["Key"], u["UploadId"]) for page in pages for u in page.get("Uploads", [])]
        for key, upload_id in unfinished:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except ClientError as error:  # finished or aborted meanwhile: gone either way
                if error.response.get("Error", {}).get("Code") != "NoSuchUpload":
                    raise
        return len(unfinished)

    def local_path(self, key: str) -> Path | None:
        return None

    def signed_url(self, key: str, *, expires_s: int) -> str | None:
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_s
        )
        return url

    def start_parts(self, key: str) -> str | None:
        started = self.client.create_multipart_upload(Bucket=self.bucket, Key=self._key(key))
        return str(started["UploadId"])

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
        answer = self.client.upload_part(
            Bucket=self.bucket,
            Key=self._key(key),
            UploadId=upload_ref,
            PartNumber=number,
            Body=body,
            ContentLength=length,
        )
        return str(answer["ETag"])

    def finish_parts(self, key: str, upload_ref: str | None, parts: list[tuple[int, str]]) -> None:
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self._key(key),
            UploadId=upload_ref,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in parts]},
        )

    def abort_parts(self, key: str, upload_ref: str | None) -> None:
        if upload_ref:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self._key(key), UploadId=upload_ref
            )

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)
