"""Retention that matches the lifecycle, on the moto S3 server: billing objects are locked one by one at upload
(COMPLIANCE until upload + ARCHIVE_OBJECT_LOCK_DAYS), usage data and working files are not locked at all, and the
bucket carries no default retention unless one is asked for (never one that outlasts the usage expiry)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from usage_archive.archive.layout import CircleCILayout, circleci_export_job_key
from usage_archive.archive.store import ArchiveStoreError, ObjectLockPolicy, S3ArchiveStore
from usage_archive.export.month import archive_month
from usage_archive.governance.bucket_policy import (
    BucketSettings,
    LifecycleError,
    apply_bucket,
    check_bucket,
    settings_from_env,
)
from usage_archive.periods import Week
from usage_archive_tests.governance.archive_fixtures import PERIOD, SPECS

WEEK = Week.parse("2026-11-16")


def versions(client, bucket: str, key: str) -> list[dict]:
    listed = client.list_object_versions(Bucket=bucket, Prefix=key)
    return [v for v in listed.get("Versions", []) if v["Key"] == key]


def refused_delete(client, bucket: str, key: str, version_id: str) -> str:
    with pytest.raises(ClientError) as info:
        client.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
    return info.value.response["Error"]["Code"]


def test_a_billing_object_is_locked_at_upload_until_upload_plus_the_days(s3_client, s3_bucket) -> None:
    store = S3ArchiveStore(s3_client, s3_bucket, "prod", object_lock=ObjectLockPolicy("COMPLIANCE", 3650))
    before = datetime.now(timezone.utc).replace(microsecond=0)
    stored = store.put_bytes("billing-archive/2025/01/credits-2025-01.parquet", b"PAR1 data PAR1")
    after = datetime.now(timezone.utc)
    head = store.head(stored.key)
    assert head is not None and head.lock_mode == "COMPLIANCE" == stored.lock_mode
    assert before + timedelta(days=3650) <= head.retain_until <= after + timedelta(days=3650)
    key = store.object_key(stored.key)
    assert refused_delete(s3_client, s3_bucket, key, stored.version_id) == "AccessDenied"
    # Not even with the governance bypass: COMPLIANCE holds for everyone until the date.
    with pytest.raises(ClientError):
        s3_client.delete_object(
            Bucket=s3_bucket, Key=key, VersionId=stored.version_id, BypassGovernanceRetention=True
        )
    assert versions(s3_client, s3_bucket, key)[0]["VersionId"] == stored.version_id


def test_usage_data_and_working_files_are_not_locked(s3_client, s3_bucket) -> None:
    store = S3ArchiveStore(s3_client, s3_bucket, "prod", object_lock=ObjectLockPolicy("COMPLIANCE", 3650))
    layout = CircleCILayout(("org-a",))
    for key in (
        layout.csv_key("org-a", WEEK),
        circleci_export_job_key("org-a", WEEK),
        f"github-actions-usage/workflow-runs-{WEEK.label}.parquet",
    ):
        stored = store.put_bytes(key, b"usage")
        assert stored.lock_mode is None and store.head(key).lock_mode is None
        # The version itself can go (what the lifecycle's expiry of non-current versions does).
        s3_client.delete_object(Bucket=s3_bucket, Key=store.object_key(key), VersionId=stored.version_id)
        assert versions(s3_client, s3_bucket, store.object_key(key)) == []


def test_archiving_a_month_again_keeps_the_earlier_versions_locked(archived, fresh_database) -> None:
    client, bucket, store = archived.client, archived.bucket, archived.store
    keys = [store.object_key(k) for k in [*archived.file_keys(), archived.manifest_key()]]
    first = {key: versions(client, bucket, key)[0]["VersionId"] for key in keys}
    archive_month(store, fresh_database, SPECS, PERIOD)  # the same month, archived again
    for key, old_version in first.items():
        listed = versions(client, bucket, key)
        assert old_version in {v["VersionId"] for v in listed}, key  # the earlier version is still there
        assert len(listed) == 2, key  # and the new one beside it
        assert refused_delete(client, bucket, key, old_version) == "AccessDenied"
        current = next(v["VersionId"] for v in listed if v["IsLatest"])
        assert refused_delete(client, bucket, key, current) == "AccessDenied"
        head = client.head_object(Bucket=bucket, Key=key, VersionId=old_version)
        assert head["ObjectLockMode"] == "COMPLIANCE"


def test_a_bucket_without_object_lock_refuses_billing_uploads_clearly(s3_client) -> None:
    bucket = f"unlocked-{uuid.uuid4().hex[:10]}"
    s3_client.create_bucket(Bucket=bucket)
    s3_client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    store = S3ArchiveStore(s3_client, bucket, object_lock=ObjectLockPolicy("COMPLIANCE", 1))
    with pytest.raises(ArchiveStoreError, match=r"upload with Object Lock \(COMPLIANCE\) failed for s3://"):
        store.put_bytes("billing-archive/2025/01/manifest.json", b"{}")
    store.put_bytes("circleci-usage-data/usage-data-x.csv", b"usage is never locked")


def test_apply_sets_no_default_retention_and_check_reports_one_past_the_usage_expiry(s3_client) -> None:
    bucket = f"old-default-{uuid.uuid4().hex[:10]}"
    s3_client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    # What earlier versions of `bucket apply` set: ten years of COMPLIANCE on every object.
    s3_client.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3650}},
        },
    )
    settings = BucketSettings(bucket=bucket, skip=("lifecycle", "public_access_block", "encryption"))
    report = check_bucket(s3_client, settings)
    described = [d.describe() for d in report.drift]
    assert any(
        line.startswith("object_lock.days: expected None, found 3650")
        and "past the usage expiry (365 d)" in line
        for line in described
    ), described
    assert "object_lock.mode: expected None, found 'COMPLIANCE'" in described
    fixed = apply_bucket(s3_client, settings)  # moto changes Object Lock settings on empty buckets only
    assert fixed.applied == [
        "object lock: enabled, no default retention (billing objects are locked at upload: COMPLIANCE 3650 days)"
    ]
    assert s3_client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"
    }
    assert check_bucket(s3_client, settings).in_sync


def test_a_default_retention_only_when_asked_and_never_past_the_usage_expiry(s3_client) -> None:
    bucket = f"asked-{uuid.uuid4().hex[:10]}"
    s3_client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    env = {"ARCHIVE_BUCKET_DEFAULT_RETENTION_DAYS": "30", "ARCHIVE_OBJECT_LOCK_MODE": "GOVERNANCE"}
    settings = settings_from_env(bucket, env=env, skip=("lifecycle", "public_access_block", "encryption"))
    assert settings.default_retention_days == 30
    assert apply_bucket(s3_client, settings).applied == ["object lock: default retention GOVERNANCE 30 days"]
    rule = s3_client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"]
    assert (rule["DefaultRetention"]["Mode"], rule["DefaultRetention"]["Days"]) == ("GOVERNANCE", 30)
    assert check_bucket(s3_client, settings).in_sync
    too_long = settings_from_env(bucket, env={"ARCHIVE_BUCKET_DEFAULT_RETENTION_DAYS": "3650"})
    with pytest.raises(
        LifecycleError, match=r"default retention of 3650 d outlasts the usage expiry \(365 d\)"
    ):
        apply_bucket(s3_client, too_long)
    assert BucketSettings(bucket="b").desired()["object_lock"] == {
        "enabled": "Enabled",
        "mode": None,
        "days": None,
    }


def test_a_billing_file_uploaded_in_parts_is_locked_too(s3_client, s3_bucket, tmp_path) -> None:
    store = S3ArchiveStore(
        s3_client,
        s3_bucket,
        multipart_threshold=5 * 1024 * 1024,
        object_lock=ObjectLockPolicy("COMPLIANCE", 1),
    )
    big = tmp_path / "credits.parquet"
    big.write_bytes(b"PAR1" + bytes(6 * 1024 * 1024))
    stored = store.put_file("billing-archive/2025/01/credits-2025-01.parquet", big)
    assert store.head(stored.key).lock_mode == "COMPLIANCE"
    assert refused_delete(s3_client, s3_bucket, stored.key, stored.version_id) == "AccessDenied"
