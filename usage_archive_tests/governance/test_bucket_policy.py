"""Bucket settings as code: local lifecycle validation, apply (idempotent), check (drift), Object Lock."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from usage_archive.governance.bucket_policy import (
    BucketPolicyError,
    BucketSettings,
    LifecycleError,
    apply_bucket,
    check_bucket,
    settings_from_env,
    validate_lifecycle,
)


def rule(
    transitions: list[tuple[int, str]],
    expiration: int | None,
    rule_id: str = "r",
    prefix: str = "billing-archive/",
) -> dict:
    out = {
        "ID": rule_id,
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "Transitions": [{"Days": d, "StorageClass": c} for d, c in transitions],
    }
    if expiration is not None:
        out["Expiration"] = {"Days": expiration}
    return out


def test_spec_defaults_are_valid_and_match_the_spec() -> None:
    settings = BucketSettings(bucket="b")
    assert settings.validate() == []
    rules = {r.rule_id: r for r in settings.lifecycle_rules()}
    billing = rules["billing-archive-tiering"]
    assert billing.prefix == "billing-archive/"
    assert (
        billing.transitions == ((90, "GLACIER_IR"), (365, "DEEP_ARCHIVE")) and billing.expiration_days == 3650
    )
    for name in ("circleci-usage-tiering", "github-actions-usage-tiering"):
        assert rules[name].transitions == ((90, "GLACIER"),) and rules[name].expiration_days == 365
    assert settings.object_lock_mode == "COMPLIANCE" and settings.object_lock_days == 3650


@pytest.mark.parametrize(
    ("bad_rule", "expected"),
    [
        (rule([(365, "DEEP_ARCHIVE"), (400, "GLACIER_IR")], 3650), "goes against the transition order"),
        (rule([(90, "GLACIER_IR"), (90, "DEEP_ARCHIVE")], 3650), "is not after the transition"),
        (
            rule([(90, "GLACIER_IR"), (120, "DEEP_ARCHIVE")], 3650),
            "before its 90-day minimum storage duration",
        ),
        (
            rule([(90, "GLACIER_IR"), (365, "DEEP_ARCHIVE")], 400),
            "before its 180-day minimum storage duration",
        ),
        (rule([(90, "GLACIER_IR"), (365, "DEEP_ARCHIVE")], 300), "is not after the last transition"),
        (rule([(10, "STANDARD_IA")], 365), "STANDARD_IA transitions need at least 30 days"),
        (rule([(90, "GLACIER_DEEP")], 365), "unknown storage class 'GLACIER_DEEP'"),
        (rule([(90, "GLACIER")], 0), "expiration needs a whole number of days"),
    ],
)
def test_lifecycle_validation_names_the_problem(bad_rule: dict, expected: str) -> None:
    problems = validate_lifecycle([bad_rule])
    assert any(expected in p for p in problems), problems


def test_transitions_must_move_on_from_the_upload_storage_class() -> None:
    assert BucketSettings(bucket="b").validate() == []  # uploads are INTELLIGENT_TIERING by default
    problems = settings_from_env("b", env={"ARCHIVE_STORAGE_CLASS": "glacier_ir"}).validate()
    assert any("GLACIER_IR → GLACIER_IR goes against the transition order" in p for p in problems), problems


def test_lifecycle_validation_catches_overlaps_and_duplicate_ids() -> None:
    problems = validate_lifecycle(
        [rule([], 365, "a", "billing-archive/"), rule([], 365, "a", "billing-archive/x/")]
    )
    assert any("used more than once" in p for p in problems)
    assert any("overlap" in p for p in problems)


def test_settings_from_env_and_overrides() -> None:
    env = {
        "ARCHIVE_OBJECT_LOCK_DAYS": "30",
        "ARCHIVE_OBJECT_LOCK_MODE": "governance",
        "ARCHIVE_BILLING_DEEP_ARCHIVE_DAYS": "400",
    }
    settings = settings_from_env("b", "root", env=env, object_lock_days=None)
    assert (settings.object_lock_days, settings.object_lock_mode, settings.billing_deep_archive_days) == (
        30,
        "GOVERNANCE",
        400,
    )
    assert settings.key_prefix("billing-archive") == "root/billing-archive/"
    assert settings_from_env("b", env=env, object_lock_days=5).object_lock_days == 5
    with pytest.raises(ValueError, match="ARCHIVE_USAGE_EXPIRE_DAYS='a year' is not a whole number"):
        settings_from_env("b", env={"ARCHIVE_USAGE_EXPIRE_DAYS": "a year"})


def test_apply_makes_a_plain_bucket_match_and_is_idempotent(s3_client) -> None:
    bucket = f"plain-{uuid.uuid4().hex[:10]}"
    s3_client.create_bucket(Bucket=bucket)  # no versioning, no lock, nothing
    settings = BucketSettings(bucket=bucket, prefix="prod", object_lock_days=2)
    before = check_bucket(s3_client, settings)
    assert {d.setting.split("[")[0].split(".")[0] for d in before.drift} == {
        "versioning",
        "object_lock",
        "encryption",
        "public_access_block",
        "lifecycle",
    }

    first = apply_bucket(s3_client, settings)
    assert first.in_sync and len(first.applied) == 5
    assert s3_client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    lock = s3_client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert (
        lock["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
        and lock["Rule"]["DefaultRetention"]["Days"] == 2
    )
    sse = s3_client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3_client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    rules = s3_client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert {r["Filter"]["Prefix"] for r in rules} == {
        "prod/billing-archive/",
        "prod/circleci-usage-data/",
        "prod/github-actions-usage/",
    }

    second = apply_bucket(s3_client, settings)
    assert second.applied == [] and second.in_sync
    assert check_bucket(s3_client, settings).in_sync


def test_check_reports_drift_after_a_rule_is_changed_by_hand(s3_client, s3_bucket) -> None:
    settings = BucketSettings(bucket=s3_bucket, object_lock_days=1)
    apply_bucket(s3_client, settings)
    rules = s3_client.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"]
    billing = next(r for r in rules if r["ID"] == "billing-archive-tiering")
    billing["Expiration"] = {"Days": 730}  # someone shortened retention in the console
    s3_client.put_bucket_lifecycle_configuration(Bucket=s3_bucket, LifecycleConfiguration={"Rules": rules})
    s3_client.delete_public_access_block(Bucket=s3_bucket)

    report = check_bucket(s3_client, settings)
    described = [d.describe() for d in report.drift]
    assert "lifecycle[billing-archive-tiering].Expiration: expected 3650, found 730" in described
    assert any(d.startswith("public_access_block.BlockPublicAcls") for d in described)
    # check changed nothing
    assert check_bucket(s3_client, settings).drift == report.drift

    fixed = apply_bucket(s3_client, settings)
    assert fixed.in_sync and {a.split(":")[0] for a in fixed.applied} == {"lifecycle", "public access"}


def test_skipped_settings_are_left_alone(s3_client) -> None:  # MinIO lacks some of them
    bucket = f"minio-like-{uuid.uuid4().hex[:10]}"
    s3_client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    settings = settings_from_env(
        bucket, env={"ARCHIVE_BUCKET_SKIP": "lifecycle, public-access-block", "ARCHIVE_OBJECT_LOCK_DAYS": "1"}
    )
    assert settings.skip == ("lifecycle", "public_access_block")
    report = apply_bucket(s3_client, settings)
    assert report.in_sync and [a.split(":")[0] for a in report.applied] == [
        "object lock",
        "default encryption",
    ]
    assert "  not managed here (skipped): lifecycle, public_access_block" in report.lines()
    with pytest.raises(ClientError):
        s3_client.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert check_bucket(s3_client, settings).in_sync
    with pytest.raises(LifecycleError, match="cannot skip tagging"):
        check_bucket(s3_client, BucketSettings(bucket=bucket, skip=("tagging",)))


def test_invalid_settings_change_nothing(s3_client, s3_bucket) -> None:
    bad = BucketSettings(bucket=s3_bucket, billing_deep_archive_days=100, object_lock_days=1)
    with pytest.raises(LifecycleError, match="before its 90-day minimum storage duration") as info:
        apply_bucket(s3_client, bad)
    assert "nothing was changed" in str(info.value)
    with pytest.raises(ClientError):
        s3_client.get_bucket_lifecycle_configuration(Bucket=s3_bucket)


def test_apply_refuses_a_missing_bucket_unless_asked_to_create(s3_client) -> None:
    bucket = f"new-{uuid.uuid4().hex[:10]}"
    settings = BucketSettings(bucket=bucket, object_lock_mode="GOVERNANCE", object_lock_days=1)
    with pytest.raises(BucketPolicyError, match=f"bucket '{bucket}' does not exist: .*--create"):
        apply_bucket(s3_client, settings)
    report = apply_bucket(s3_client, settings, create=True)
    assert report.created and report.in_sync
    assert (
        s3_client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"]
        == "Enabled"
    )


def test_object_lock_refuses_deleting_an_archived_version(archived) -> None:
    key = archived.store.object_key(archived.file_keys()[0])
    versions = archived.client.list_object_versions(Bucket=archived.bucket, Prefix=key)["Versions"]
    assert len(versions) == 1
    with pytest.raises(ClientError) as info:
        archived.client.delete_object(Bucket=archived.bucket, Key=key, VersionId=versions[0]["VersionId"])
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):  # COMPLIANCE: not even with the governance bypass
        archived.client.delete_object(
            Bucket=archived.bucket,
            Key=key,
            VersionId=versions[0]["VersionId"],
            BypassGovernanceRetention=True,
        )
    # a plain delete only adds a delete marker: the archived version is still there and readable
    archived.client.delete_object(Bucket=archived.bucket, Key=key)
    body = archived.client.get_object(Bucket=archived.bucket, Key=key, VersionId=versions[0]["VersionId"])[
        "Body"
    ]
    assert body.read()[:4] == b"PAR1"
