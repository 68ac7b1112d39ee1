"""archive_month against real Postgres and the moto S3 server: errors leave nothing behind, re-runs are
idempotent, a failure half-way never leaves a manifest that disagrees with the stored files."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timezone

import boto3
import psycopg2
import pytest

from usage_archive.archive.store import ArchiveStoreError, LocalArchiveStore, S3ArchiveStore
from usage_archive.defs.billing.tables import BILLING_TABLES
from usage_archive.demo.billing_db import load_billing_rows, load_billing_schema
from usage_archive.export.catalog import TableMissingError
from usage_archive.export.month import PeriodError, TableExport, archive_month, manifest_key, parse_period
from usage_archive.export.snapshot import BillingDatabaseError
from usage_archive.export.verify import verify_file

SPECS = [s.export for s in BILLING_TABLES]
PERIOD = "2026-09"


@pytest.fixture
def billing_db(fresh_database: str) -> str:
    load_billing_schema(fresh_database)
    load_billing_rows(fresh_database, last_month=date(2026, 10, 1), months=2, scale=800)
    return fresh_database


@pytest.fixture
def s3_store(moto_endpoint: str, s3_bucket: str) -> S3ArchiveStore:
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    return S3ArchiveStore(client, s3_bucket, "archive/root")


def test_month_to_s3_with_manifest_last(
    billing_db: str, s3_store: S3ArchiveStore, s3_client, s3_bucket
) -> None:
    month = archive_month(s3_store, billing_db, SPECS, PERIOD)
    manifest = month.manifest
    assert [f["table"] for f in manifest["files"]] == [s.archive_name for s in SPECS]
    assert manifest["period"] == PERIOD and manifest["retention_years"] == 10
    assert manifest["compliance"] == ["EU_AI_Act", "Financial_Audit"]
    assert manifest["snapshot"]["isolation"] == "repeatable read" and manifest["snapshot"]["read_only"]
    for entry in manifest["files"]:
        assert entry["s3_key"].startswith("archive/root/billing-archive/2026/09/")
        head = s3_client.head_object(Bucket=s3_bucket, Key=entry["s3_key"], ChecksumMode="ENABLED")
        assert head["ContentLength"] == entry["bytes"]
        assert head["ServerSideEncryption"] == "AES256"
        assert head["StorageClass"] == "INTELLIGENT_TIERING"
        assert head["Metadata"]["sha256"] == entry["sha256"]
        attributes = s3_client.get_object_attributes(
            Bucket=s3_bucket, Key=entry["s3_key"], ObjectAttributes=["Checksum"]
        )
        assert base64.b64decode(attributes["Checksum"]["ChecksumSHA256"]).hex() == entry["sha256"]
        assert verify_file(s3_store, entry).ok
    with psycopg2.connect(billing_db) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM credit_checks WHERE created_at >= '2026-09-01Z' AND created_at < '2026-10-01Z'"
        )
        assert manifest["files"][5]["records"] == cur.fetchone()[0] == 800
    # the manifest is the newest object of the month: written after every file it lists
    objects = s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="archive/root/billing-archive/2026/09/")[
        "Contents"
    ]
    newest = max(objects, key=lambda o: o["LastModified"])
    assert newest["Key"].endswith("manifest.json") or newest["LastModified"] == max(
        o["LastModified"] for o in objects if o["Key"].endswith("manifest.json")
    )


def test_rerun_is_idempotent_and_codec_change_replaces_files(billing_db: str, tmp_path) -> None:
    store = LocalArchiveStore(tmp_path)
    first = archive_month(store, billing_db, SPECS, PERIOD)
    second = archive_month(store, billing_db, SPECS, PERIOD)
    assert [f["sha256"] for f in first.manifest["files"]] == [f["sha256"] for f in second.manifest["files"]]
    keys = sorted(o.key for o in store.list())
    assert len(keys) == len(SPECS) + 1
    gzip = archive_month(store, billing_db, SPECS, PERIOD, codec="gzip")
    keys = sorted(o.key for o in store.list())
    assert len(keys) == len(SPECS) + 1 and all(k.endswith((".parquet.gz", "manifest.json")) for k in keys)
    assert sorted(gzip.removed_keys) == sorted(f.key for f in first.files)


def test_missing_table_fails_before_anything_is_stored(billing_db: str, tmp_path) -> None:
    store = LocalArchiveStore(tmp_path)
    specs = [*SPECS, TableExport("refunds", "refunds", "refunds")]
    with pytest.raises(TableMissingError, match="'refunds'"):
        archive_month(store, billing_db, specs, PERIOD)
    assert list(store.list()) == []


def test_database_down_is_a_clear_error_without_the_password(tmp_path) -> None:
    store = LocalArchiveStore(tmp_path)
    url = "postgresql://archiver:s3cret-Pa55@127.0.0.1:1/billing"
    with pytest.raises(BillingDatabaseError) as raised:
        archive_month(store, url, SPECS, PERIOD)
    assert "127.0.0.1:1/billing" in str(raised.value)
    assert "s3cret-Pa55" not in str(raised.value)
    assert list(store.list()) == []


@pytest.mark.parametrize("period", ["2999-01", "current"])
def test_future_or_unfinished_month_is_refused(billing_db: str, tmp_path, period: str) -> None:
    store = LocalArchiveStore(tmp_path)
    if period == "current":
        period = f"{datetime.now(timezone.utc):%Y-%m}"
    with pytest.raises(PeriodError, match=r"future|not ended"):
        archive_month(store, billing_db, SPECS, period)
    assert list(store.list()) == []


@pytest.mark.parametrize("bad", ["2026-13", "2026-09-15", "last month", ""])
def test_malformed_period_is_named(bad: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(bad)


def _deny(s3_client, bucket: str, key_pattern: str) -> None:
    s3_client.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{bucket}/{key_pattern}",
                    }
                ],
            }
        ),
    )


def test_s3_access_denied_is_clear_and_stores_nothing(
    billing_db: str, s3_store, s3_client, s3_bucket
) -> None:
    _deny(s3_client, s3_bucket, "*")
    with pytest.raises(ArchiveStoreError, match="AccessDenied") as raised:
        archive_month(s3_store, billing_db, SPECS, PERIOD)
    assert "testing" not in str(raised.value)  # no credential in the message
    assert s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_failure_half_way_leaves_no_stale_manifest(billing_db: str, s3_store, s3_client, s3_bucket) -> None:
    archive_month(s3_store, billing_db, SPECS, PERIOD)
    with psycopg2.connect(billing_db) as conn, conn.cursor() as cur:  # a late row changes the month
        cur.execute(
            "INSERT INTO credits (account_id, amount, source, created_at) "
            "SELECT id, 1, 'grant', '2026-09-30 12:00Z' FROM accounts LIMIT 1"
        )
    # the upload of the fourth file is refused: the run stops half-way
    _deny(s3_client, s3_bucket, "archive/root/billing-archive/2026/09/llm_usage_logs-*")
    with pytest.raises(ArchiveStoreError):
        archive_month(s3_store, billing_db, SPECS, PERIOD)
    assert not s3_store.exists(manifest_key(parse_period(PERIOD)))  # incomplete month reads as incomplete
    s3_client.delete_bucket_policy(Bucket=s3_bucket)
    retried = archive_month(s3_store, billing_db, SPECS, PERIOD)  # the retry completes the month
    assert retried.manifest["files"][0]["records"] == 1 + archived_credits(billing_db) - 1
    assert all(verify_file(s3_store, entry).ok for entry in retried.manifest["files"])


def archived_credits(url: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM credits WHERE created_at >= '2026-09-01Z' AND created_at < '2026-10-01Z'"
        )
        return cur.fetchone()[0]
