"""The archive store resource: ARCHIVE_URL chooses a local directory or S3 (through dagster_aws's S3Resource)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import Field

from usage_archive.archive.store import (
    DEFAULT_ENCRYPTION,
    DEFAULT_STORAGE_CLASS,
    ArchiveStore,
    LocalArchiveStore,
    S3ArchiveStore,
    parse_archive_url,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ARCHIVE_DIR = str(PROJECT_ROOT / ".archive")


class ArchiveStoreResource(dg.ConfigurableResource):
    """Where archives go. `s3://bucket[/prefix]` uses S3 (AWS_ENDPOINT_URL and the other AWS_* variables are
    honoured by boto3); anything else is a local directory."""

    url: str = Field(
        default=DEFAULT_ARCHIVE_DIR, description="ARCHIVE_URL: s3://bucket[/prefix] or a directory"
    )
    storage_class: str = Field(default=DEFAULT_STORAGE_CLASS, description="S3 storage class for new objects")
    server_side_encryption: str = Field(default=DEFAULT_ENCRYPTION, description="S3 default encryption")
    multipart_threshold_mb: int = Field(default=64, description="files at least this large upload in parts")
    s3: S3Resource = Field(default_factory=S3Resource)

    def get_store(self) -> ArchiveStore:
        scheme, location, prefix = parse_archive_url(self.url)
        if scheme == "file":
            return LocalArchiveStore(location)
        return S3ArchiveStore(
            self.s3.get_client(),
            location,
            prefix,
            storage_class=self.storage_class,
            server_side_encryption=self.server_side_encryption,
            multipart_threshold=self.multipart_threshold_mb * 1024 * 1024,
        )
