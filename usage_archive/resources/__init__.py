"""The only doors to the outside world: archive store, billing database, CircleCI and GitHub APIs.

Each resource reads its settings from environment variables (dg.EnvVar, so secrets never show in the UI) and
falls back to a local default where one makes sense.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_aws.s3 import S3Resource

from usage_archive.resources.archive_store import DEFAULT_ARCHIVE_DIR, ArchiveStoreResource
from usage_archive.resources.billing_db import BillingDatabaseResource


def env_or_default(name: str, default: str | None) -> str | dg.EnvVar | None:
    """EnvVar when the variable is set (resolved at run time, hidden in the UI), else the local default."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def build_archive_store() -> ArchiveStoreResource:
    return ArchiveStoreResource(
        url=env_or_default("ARCHIVE_URL", DEFAULT_ARCHIVE_DIR),
        storage_class=env_or_default("ARCHIVE_STORAGE_CLASS", "INTELLIGENT_TIERING"),
        s3=S3Resource(
            region_name=env_or_default("AWS_REGION", None) or env_or_default("AWS_DEFAULT_REGION", None)
        ),
    )


def build_resources() -> dict[str, object]:
    return {
        "archive_store": build_archive_store(),
        "billing_db": BillingDatabaseResource(url=env_or_default("BILLING_DATABASE_URL", None)),
    }
