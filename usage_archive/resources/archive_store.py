"""The archive store resource: ARCHIVE_URL chooses a local directory or S3."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from usage_archive.archive.store import DEFAULT_ENCRYPTION, ArchiveStore, ObjectLockPolicy, store_from_url
from usage_archive.settings import (
    DEFAULT_ARCHIVE_URL,
    DEFAULT_OBJECT_LOCK_DAYS,
    DEFAULT_OBJECT_LOCK_MODE,
    DEFAULT_STORAGE_CLASS,
)


class S3ClientResource(dg.ConfigurableResource):
    """How to reach S3: endpoint (MinIO, a test server), region, profile and retries; boto3 reads the other
    AWS_* settings itself. dagster_aws builds the client; it is imported here, when an S3 archive is first used,
    because importing it costs about a second that every code-location load (and every run) would pay."""

    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (else AWS_ENDPOINT_URL)"
    )
    region_name: str | None = Field(default=None, description="AWS region (else boto3's own settings)")
    profile_name: str | None = Field(default=None, description="AWS profile (else boto3's own settings)")
    max_attempts: int = Field(default=5, description="attempts per S3 call, by boto3's retry handler")

    def get_client(self) -> Any:
        from dagster_aws.s3.utils import construct_s3_client

        return construct_s3_client(
            max_attempts=self.max_attempts,
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            profile_name=self.profile_name,
        )


class ArchiveStoreResource(dg.ConfigurableResource):
    """Where archives go. `s3://bucket[/prefix]` uses S3 (AWS_ENDPOINT_URL and the other AWS_* variables are
    honoured by boto3); anything else is a local directory (relative: from the working directory)."""

    url: str = Field(
        default=DEFAULT_ARCHIVE_URL, description="ARCHIVE_URL: s3://bucket[/prefix] or a directory"
    )
    storage_class: str = Field(default=DEFAULT_STORAGE_CLASS, description="S3 storage class for new objects")
    server_side_encryption: str = Field(default=DEFAULT_ENCRYPTION, description="S3 default encryption")
    multipart_threshold_mb: int = Field(default=64, description="files at least this large upload in parts")
    object_lock_mode: str = Field(
        default=DEFAULT_OBJECT_LOCK_MODE,
        description="ARCHIVE_OBJECT_LOCK_MODE: Object Lock mode of each billing object, set at upload",
    )
    object_lock_days: int = Field(
        default=DEFAULT_OBJECT_LOCK_DAYS,
        description="ARCHIVE_OBJECT_LOCK_DAYS: each billing object is locked until its upload + this many days",
    )
    s3: S3ClientResource = Field(default_factory=S3ClientResource)

    def get_store(self) -> ArchiveStore:
        return store_from_url(
            self.url,
            s3_client=self.s3.get_client,
            storage_class=self.storage_class,
            server_side_encryption=self.server_side_encryption,
            multipart_threshold=self.multipart_threshold_mb * 1024 * 1024,
            object_lock=ObjectLockPolicy(self.object_lock_mode, self.object_lock_days),
        )
