"""The archive store: a local directory or an S3 bucket (with an optional key prefix), one interface for both.

No Dagster import: the CLI (verify, restore, bucket) and the Dagster resources share this code.
Keys are always relative to the archive root and use forward slashes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

SHA256_CHUNK = 1 << 20
DEFAULT_STORAGE_CLASS = "INTELLIGENT_TIERING"
DEFAULT_ENCRYPTION = "AES256"
ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})  # objects that need a restore before a GET


class ArchiveStoreError(RuntimeError):
    """A store operation failed; the message names the object and the cause, never a credential."""


class ObjectNotFound(ArchiveStoreError):
    pass


@dataclass(frozen=True)
class StoredObject:
    key: str
    bytes: int
    sha256: str | None = None
    storage_class: str = "STANDARD"
    version_id: str | None = None
    restore: str | None = None  # S3's x-amz-restore header: 'ongoing-request="true"' or '… expiry-date=…'
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def needs_restore(self) -> bool:
        """True when the object sits in a Glacier tier and no completed restore copy exists."""
        if self.storage_class not in ARCHIVED_CLASSES:
            return False
        return not (self.restore and 'ongoing-request="false"' in self.restore)


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(SHA256_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _validate_key(key: str) -> str:
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in key.split("/")):
        raise ValueError(f"invalid archive key {key!r}: use a relative path with '/' separators")
    return key


class ArchiveStore(Protocol):
    """What every archive backend offers."""

    def uri(self, key: str = "") -> str: ...
    def object_key(self, key: str) -> str: ...
    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        sha256: str | None = None,
        content_type: str = "application/octet-stream",
        storage_class: str | None = None,
    ) -> StoredObject: ...
    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        storage_class: str | None = None,
    ) -> StoredObject: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, path: str | os.PathLike[str]) -> None: ...
    def head(self, key: str) -> StoredObject | None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str = "") -> Iterator[StoredObject]: ...
    def copy(self, src: str, dst: str) -> StoredObject: ...


class LocalArchiveStore:
    """A directory on disk. Writes go to a temporary file and are renamed into place, so readers never see
    half-written objects."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    def _path(self, key: str) -> Path:
        return self.root / _validate_key(key)

    def uri(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)

    def object_key(self, key: str) -> str:
        return _validate_key(key)

    def _atomic_write(self, key: str, writer: Any) -> Path:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                writer(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def put_file(
        self, key, path, *, sha256=None, content_type="application/octet-stream", storage_class=None
    ):
        def copy(fh: Any) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, fh, SHA256_CHUNK)

        target = self._atomic_write(key, copy)
        return StoredObject(
            key=key, bytes=target.stat().st_size, sha256=sha256 or sha256_file(target), storage_class="LOCAL"
        )

    def put_bytes(self, key, data, *, content_type="application/octet-stream", storage_class=None):
        self._atomic_write(key, lambda fh: fh.write(data))
        return StoredObject(
            key=key, bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), storage_class="LOCAL"
        )

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r} in the archive at {self.root}") from None

    def download(self, key, path) -> None:
        src = self._path(key)
        if not src.is_file():
            raise ObjectNotFound(f"no object {key!r} in the archive at {self.root}")
        shutil.copyfile(src, path)

    def head(self, key: str) -> StoredObject | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return StoredObject(key=key, bytes=path.stat().st_size, storage_class="LOCAL")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        base = self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.name.endswith(".part"):
                continue
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix):
                yield StoredObject(key=key, bytes=path.stat().st_size, storage_class="LOCAL")

    def copy(self, src: str, dst: str) -> StoredObject:
        source = self._path(src)
        if not source.is_file():
            raise ObjectNotFound(f"no object {src!r} in the archive at {self.root}")
        return self.put_file(dst, source)


def _s3_error_message(exc: Exception, action: str, uri: str) -> str:
    """A one-line explanation of a botocore failure that names the object and the S3 error code only."""
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code") or type(exc).__name__
    code = {"403": "AccessDenied", "Forbidden": "AccessDenied"}.get(code, code)  # bodiless 403 replies
    hints = {
        "AccessDenied": "the credentials in use may not do this: check the IAM policy (usage-archive iam-policy)",
        "AllAccessDisabled": "the bucket refuses all access",
        "NoSuchBucket": "the bucket does not exist: check ARCHIVE_URL (and AWS_ENDPOINT_URL for MinIO)",
        "InvalidAccessKeyId": "the AWS access key id is not known to this endpoint",
        "SignatureDoesNotMatch": "the AWS secret key does not match the access key id",
        "InvalidObjectState": "the object is in a Glacier tier: restore it first (usage-archive restore)",
        "ExpiredToken": "the AWS session token has expired",
    }
    hint = hints.get(code, "")
    return f"S3 {action} failed for {uri}: {code}" + (f" ({hint})" if hint else "")


class S3ArchiveStore:
    """A bucket plus an optional key prefix. Every upload carries a SHA-256 checksum that S3 verifies,
    server-side encryption and a storage class; files above the multipart threshold go up in parts."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        storage_class: str = DEFAULT_STORAGE_CLASS,
        server_side_encryption: str = DEFAULT_ENCRYPTION,
        multipart_threshold: int = 64 * 1024 * 1024,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.storage_class = storage_class
        self.server_side_encryption = server_side_encryption
        self.multipart_threshold = multipart_threshold

    def object_key(self, key: str) -> str:
        _validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, object_key: str) -> str:
        return object_key[len(self.prefix) + 1 :] if self.prefix else object_key

    def uri(self, key: str = "") -> str:
        root = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{root}/{key}" if key else root

    def _call(self, action: str, key: str, fn: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectNotFound(f"no object {key!r} in {self.uri()}") from None
            raise ArchiveStoreError(_s3_error_message(exc, action, self.uri(key))) from None
        except BotoCoreError as exc:
            raise ArchiveStoreError(
                f"S3 {action} failed for {self.uri(key)}: {type(exc).__name__}: {exc}"
            ) from None

    def _put_args(self, sha256_hex: str, storage_class: str | None, content_type: str) -> dict[str, Any]:
        args: dict[str, Any] = {
            "ContentType": content_type,
            "Metadata": {"sha256": sha256_hex},
            "StorageClass": storage_class or self.storage_class,
        }
        if self.server_side_encryption:
            args["ServerSideEncryption"] = self.server_side_encryption
        return args

    def put_file(
        self, key, path, *, sha256=None, content_type="application/octet-stream", storage_class=None
    ):
        size = os.path.getsize(path)
        digest = sha256 or sha256_file(path)
        args = self._put_args(digest, storage_class, content_type)
        if size < self.multipart_threshold:
            with open(path, "rb") as body:
                response = self._call(
                    "upload",
                    key,
                    self.client.put_object,
                    Bucket=self.bucket,
                    Key=self.object_key(key),
                    Body=body,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode(),
                    **args,
                )
            version = response.get("VersionId")
        else:
            from boto3.s3.transfer import TransferConfig

            # Multipart: S3 checks each part's SHA-256; the full-object digest travels in the metadata.
            config = TransferConfig(
                multipart_threshold=self.multipart_threshold,
                multipart_chunksize=max(self.multipart_threshold // 4, 8 * 1024 * 1024),
            )
            self._call(
                "multipart upload",
                key,
                self.client.upload_file,
                Filename=str(path),
                Bucket=self.bucket,
                Key=self.object_key(key),
                ExtraArgs={**args, "ChecksumAlgorithm": "SHA256"},
                Config=config,
            )
            version = None
        return StoredObject(
            key=key, bytes=size, sha256=digest, storage_class=args["StorageClass"], version_id=version
        )

    def put_bytes(self, key, data, *, content_type="application/octet-stream", storage_class=None):
        digest = hashlib.sha256(data).hexdigest()
        args = self._put_args(digest, storage_class, content_type)
        response = self._call(
            "upload",
            key,
            self.client.put_object,
            Bucket=self.bucket,
            Key=self.object_key(key),
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode(),
            **args,
        )
        return StoredObject(
            key=key,
            bytes=len(data),
            sha256=digest,
            storage_class=args["StorageClass"],
            version_id=response.get("VersionId"),
        )

    def get_bytes(self, key: str) -> bytes:
        response = self._call(
            "download", key, self.client.get_object, Bucket=self.bucket, Key=self.object_key(key)
        )
        return response["Body"].read()

    def download(self, key, path) -> None:
        response = self._call(
            "download", key, self.client.get_object, Bucket=self.bucket, Key=self.object_key(key)
        )
        with open(path, "wb") as fh:
            for chunk in response["Body"].iter_chunks(SHA256_CHUNK):
                fh.write(chunk)

    def head(self, key: str) -> StoredObject | None:
        try:
            response = self._call(
                "head", key, self.client.head_object, Bucket=self.bucket, Key=self.object_key(key)
            )
        except ObjectNotFound:
            return None
        metadata = response.get("Metadata") or {}
        return StoredObject(
            key=key,
            bytes=response["ContentLength"],
            sha256=metadata.get("sha256"),
            storage_class=response.get("StorageClass") or "STANDARD",
            version_id=response.get("VersionId"),
            restore=response.get("Restore"),
            metadata=metadata,
        )

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def delete(self, key: str) -> None:
        # On a versioned bucket this adds a delete marker; locked versions stay, as Object Lock requires.
        self._call("delete", key, self.client.delete_object, Bucket=self.bucket, Key=self.object_key(key))

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix
        pages = self._call(
            "list", prefix, lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=full_prefix))
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield StoredObject(
                    key=self._relative(item["Key"]),
                    bytes=item["Size"],
                    storage_class=item.get("StorageClass") or "STANDARD",
                )

    def copy(self, src: str, dst: str) -> StoredObject:
        # Through a local file rather than CopyObject: the new object gets the same SHA-256 checksum, encryption
        # and storage class as any upload, which a bucket with Object Lock requires of every write.
        with tempfile.TemporaryDirectory(prefix="archive-copy-") as tmp:
            local = Path(tmp) / "object"
            self.download(src, local)
            return self.put_file(dst, local)


def parse_archive_url(url: str) -> tuple[str, str, str]:
    """Split ARCHIVE_URL into (scheme, bucket-or-path, prefix). Refuses what it cannot use."""
    if not url or not url.strip():
        raise ValueError("ARCHIVE_URL is empty: give s3://bucket[/prefix] or a local directory path")
    url = url.strip()
    if url.startswith("s3://"):
        parsed = urlparse(url)
        if not parsed.netloc:
            raise ValueError(f"ARCHIVE_URL {url!r} names no bucket: use s3://bucket[/prefix]")
        return "s3", parsed.netloc, parsed.path.strip("/")
    if "://" in url and not url.startswith("file://"):
        raise ValueError(f"ARCHIVE_URL {url!r}: only s3:// URLs and local paths are supported")
    return "file", url.removeprefix("file://"), ""
