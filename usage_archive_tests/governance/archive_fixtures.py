"""An archived billing month in the moto S3 server, made by the real export from a real Postgres database.

Shared by the governance, CLI and ops tests (their conftest files import the fixtures from here)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import psycopg2
import pytest

from usage_archive.archive.store import S3ArchiveStore, StoredObject
from usage_archive.export.month import TableExport, archive_month, manifest_key
from usage_archive.governance.bucket_policy import BucketSettings, apply_bucket

PERIOD = "2025-01"
SPECS = [
    TableExport("credits", "credits", "credits"),
    TableExport("accounts", "accounts_snapshot", "accounts-snapshot", time_column=None),
]


def create_billing_tables(url: str, months: tuple[str, ...] = (PERIOD,)) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL);
            CREATE TABLE credits (id bigint PRIMARY KEY, account_id bigint NOT NULL,
                                  amount numeric(12, 4) NOT NULL, created_at timestamptz NOT NULL);
            INSERT INTO accounts VALUES (1, 'ada'), (2, 'grace');
        """)
        for n, month in enumerate(months):
            cur.execute(
                "INSERT INTO credits SELECT %s * 100 + g, g %% 2 + 1, g * 1.25, %s::timestamptz + g * interval '1 hour' "
                "FROM generate_series(1, 5) g",
                (n, f"{month}-03T00:00:00Z"),
            )
    conn.close()


@dataclass
class ArchivedMonths:
    store: S3ArchiveStore
    client: Any
    bucket: str
    periods: tuple[str, ...]

    def file_keys(self, period: str = PERIOD) -> list[str]:
        return [
            o.key
            for o in self.store.list(f"billing-archive/{period[:4]}/{period[5:7]}/")
            if not o.key.endswith("manifest.json")
        ]

    def move_to(self, key: str, storage_class: str) -> None:
        """What a lifecycle transition does (moto never applies lifecycle rules): same bytes, new class.
        (A copy-in-place would be closer, but moto refuses CopyObject on a locked bucket without Content-MD5.)"""
        self.store.put_bytes(key, self.store.get_bytes(key), storage_class=storage_class)

    def manifest_key(self, period: str = PERIOD) -> str:
        from usage_archive.export.month import parse_period

        return manifest_key(parse_period(period))


class RestoringS3(S3ArchiveStore):
    """The real S3 store, except that HEAD reports a restore still running for the `restoring` keys.

    moto completes a restore the moment it is requested; S3 takes hours, and meanwhile its HEAD answers
    `x-amz-restore: ongoing-request="true"`. This store answers HEAD that way, like a slow S3 would."""

    restoring: frozenset[str] = frozenset()

    def head(self, key: str) -> StoredObject | None:
        head = super().head(key)
        if head is not None and key in self.restoring:
            return replace(head, restore='ongoing-request="true"')
        return head


def archive(store: S3ArchiveStore, url: str, months: tuple[str, ...]) -> None:
    for month in months:
        archive_month(store, url, SPECS, month)


@pytest.fixture
def s3_store(s3_client, s3_bucket) -> S3ArchiveStore:
    return S3ArchiveStore(s3_client, s3_bucket, "prod", storage_class="STANDARD")


@pytest.fixture
def archived(fresh_database: str, s3_client, s3_bucket, s3_store: S3ArchiveStore) -> ArchivedMonths:
    """January and February 2025 archived under s3://bucket/prod, bucket governed (1-day COMPLIANCE lock)."""
    months = (PERIOD, "2025-02")
    create_billing_tables(fresh_database, months)
    # moto only takes a default retention while the bucket is empty, as the first apply on a new bucket does.
    apply_bucket(s3_client, BucketSettings(bucket=s3_bucket, prefix="prod", object_lock_days=1))
    archive(s3_store, fresh_database, months)
    return ArchivedMonths(store=s3_store, client=s3_client, bucket=s3_bucket, periods=months)
