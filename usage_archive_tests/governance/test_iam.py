"""Least-privilege IAM policies: the documents, and what they allow on a moto server that enforces IAM."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
import requests

from usage_archive.archive.store import ArchiveStoreError, S3ArchiveStore
from usage_archive.governance.iam import ROLES, WORKING_STATE_FOLDERS, iam_policy

BUCKET = "governed-archive"


def actions(policy: dict, effect: str = "Allow") -> set[str]:
    return {a for s in policy["Statement"] if s["Effect"] == effect for a in s["Action"]}


def test_archiver_may_put_and_read_under_its_prefixes_only() -> None:
    policy = iam_policy("archiver", BUCKET, "prod")
    assert actions(policy) == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "s3:DeleteObject",
    }
    deletes = next(s for s in policy["Statement"] if s["Sid"] == "ClearWorkingState")
    assert deletes["Resource"] == [
        f"arn:aws:s3:::{BUCKET}/prod/circleci-usage-data/.export-jobs/*",
        f"arn:aws:s3:::{BUCKET}/prod/circleci-usage-data/incoming/*",
        f"arn:aws:s3:::{BUCKET}/prod/github-actions-usage/.progress/*",
    ]
    objects = next(s for s in policy["Statement"] if s["Sid"] == "PutAndReadArchiveObjects")
    assert objects["Resource"] == [
        f"arn:aws:s3:::{BUCKET}/prod/billing-archive/*",
        f"arn:aws:s3:::{BUCKET}/prod/circleci-usage-data/*",
        f"arn:aws:s3:::{BUCKET}/prod/github-actions-usage/*",
    ]
    assert {"s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"} <= actions(policy, "Deny")
    replace = next(
        s
        for s in iam_policy("archiver", BUCKET, allow_replace=True)["Statement"]
        if s["Sid"] == "ReplaceBillingMonth"
    )
    assert replace["Resource"] == [f"arn:aws:s3:::{BUCKET}/billing-archive/*"]


def test_working_state_folders_are_the_sources_own() -> None:
    from usage_archive.circleci.incoming import INCOMING_PREFIX
    from usage_archive.circleci.weekly import JOBS_PREFIX
    from usage_archive.github_actions.week import PROGRESS_PREFIX

    assert set(WORKING_STATE_FOLDERS) == {JOBS_PREFIX, INCOMING_PREFIX.rstrip("/"), PROGRESS_PREFIX}


def test_every_role_is_valid_json_without_wildcard_actions() -> None:
    for role in ROLES:
        policy = json.loads(json.dumps(iam_policy(role, BUCKET)))
        assert policy["Version"] == "2012-10-17"
        assert not any("*" in a for a in actions(policy)), role
    assert "s3:RestoreObject" in actions(iam_policy("restorer", BUCKET))
    with pytest.raises(ValueError, match="unknown role 'admin'"):
        iam_policy("admin", BUCKET)
    with pytest.raises(ValueError, match="is not a bucket name"):
        iam_policy("archiver", "bucket/with/slash")


@pytest.fixture
def iam_enforcing_s3() -> Iterator[tuple[str, object]]:
    """A moto server of its own, with IAM enforced once the users exist (moto's switch is process-wide, so it is
    turned off again afterwards for the shared server)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    iam = boto3.client("iam", endpoint_url=endpoint)

    def client_for(role: str, **options: bool) -> object:
        name = f"{role}-{len(iam.list_users()['Users'])}"
        iam.create_user(UserName=name)
        arn = iam.create_policy(
            PolicyName=name, PolicyDocument=json.dumps(iam_policy(role, BUCKET, "prod", **options))
        )["Policy"]["Arn"]
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )

    archiver, replacer = client_for("archiver"), client_for("archiver", allow_replace=True)
    restorer = client_for("restorer")
    previous = requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=5).json()
    try:
        yield endpoint, {"archiver": archiver, "replacer": replacer, "restorer": restorer}
    finally:
        restore = str(previous.get("PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT", "inf")).encode()
        requests.post(f"{endpoint}/moto-api/reset-auth", data=restore, timeout=5)
        server.stop()


def test_policies_hold_on_an_iam_enforcing_server(iam_enforcing_s3) -> None:
    _endpoint, clients = iam_enforcing_s3
    archiver = S3ArchiveStore(clients["archiver"], BUCKET, "prod", storage_class="STANDARD")
    archiver.put_bytes("billing-archive/2025/01/credits-2025-01.parquet", b"PAR1 data")
    assert archiver.get_bytes("billing-archive/2025/01/credits-2025-01.parquet") == b"PAR1 data"
    with pytest.raises(ArchiveStoreError, match=r"AccessDenied .*iam-policy"):
        archiver.put_bytes("other-data/elsewhere.bin", b"outside the archive prefixes")
    with pytest.raises(ArchiveStoreError, match=r"delete failed .*AccessDenied"):
        archiver.delete("billing-archive/2025/01/credits-2025-01.parquet")
    archiver.put_bytes("github-actions-usage/.progress/2025-01-06/done/o/r.parquet", b"resume state")
    archiver.delete("github-actions-usage/.progress/2025-01-06/done/o/r.parquet")  # its own working state
    with pytest.raises(Exception, match="AccessDenied"):
        clients["archiver"].put_bucket_versioning(
            Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}
        )

    S3ArchiveStore(clients["replacer"], BUCKET, "prod").delete(
        "billing-archive/2025/01/credits-2025-01.parquet"
    )

    restorer = S3ArchiveStore(clients["restorer"], BUCKET, "prod", storage_class="STANDARD")
    restorer.put_bytes(".restores/billing-archive-2025-01.json", b"{}")
    with pytest.raises(ArchiveStoreError, match="AccessDenied"):
        restorer.put_bytes("billing-archive/2025/01/credits-2025-01.parquet", b"overwrite attempt")
