"""Least-privilege IAM policies for the archive bucket, generated as JSON (no Dagster import).

Roles:
- archiver: the Dagster runs. Put and read objects under the archive's own prefixes, list those prefixes, and
  delete only the sources' working state (CircleCI export-job state and imported drop-folder files, GitHub
  Actions resume progress) once it has served; no other delete, no retention changes, no bucket settings.
  `allow_replace` adds s3:DeleteObject under the billing prefix, needed only to re-archive a month (it removes
  the old manifest first). On the versioned, locked bucket a delete only adds a delete marker; locked versions
  stay.
- restorer: request restores from Glacier tiers, read the archive, and write the restore records.
- bucket-admin: read and change the bucket settings that `usage-archive bucket apply` manages.
Explicit denies keep the archiver and restorer away from version deletes and Object Lock settings even if a
broader policy is attached to the same principal.
"""

from __future__ import annotations

from typing import Any

from usage_archive.governance.bucket_policy import BILLING_PREFIX, CIRCLECI_PREFIX, GITHUB_ACTIONS_PREFIX
from usage_archive.governance.restore import RESTORE_RECORDS_PREFIX

ROLES = ("archiver", "restorer", "bucket-admin")
ARCHIVE_FOLDERS = (BILLING_PREFIX, CIRCLECI_PREFIX, GITHUB_ACTIONS_PREFIX)
# Working state the sources delete when done with it (usage_archive.circleci.weekly.JOBS_PREFIX,
# usage_archive.circleci.incoming.INCOMING_PREFIX, usage_archive.github_actions.week.PROGRESS_PREFIX).
WORKING_STATE_FOLDERS = (
    f"{CIRCLECI_PREFIX}/.export-jobs",
    f"{CIRCLECI_PREFIX}/incoming",
    f"{GITHUB_ACTIONS_PREFIX}/.progress",
)
GUARD_DENY_ACTIONS = [
    "s3:DeleteObjectVersion",
    "s3:BypassGovernanceRetention",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    "s3:DeleteBucket",
    "s3:PutBucketPolicy",
]
BUCKET_ADMIN_ACTIONS = [
    "s3:CreateBucket",
    "s3:ListBucket",
    "s3:GetBucketVersioning",
    "s3:PutBucketVersioning",
    "s3:GetBucketObjectLockConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:GetEncryptionConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:GetBucketPublicAccessBlock",
    "s3:PutBucketPublicAccessBlock",
    "s3:GetLifecycleConfiguration",
    "s3:PutLifecycleConfiguration",
]


def _folder(prefix: str, folder: str) -> str:
    root = prefix.strip("/")
    return f"{root}/{folder}" if root else folder


def _objects(bucket: str, prefix: str, folders: tuple[str, ...] | list[str]) -> list[str]:
    return [f"arn:aws:s3:::{bucket}/{_folder(prefix, f)}/*" for f in folders]


def _list_statement(
    sid: str, bucket: str, prefix: str, folders: tuple[str, ...] | list[str]
) -> dict[str, Any]:
    patterns = []
    for f in folders:
        patterns += [_folder(prefix, f), f"{_folder(prefix, f)}/*"]
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": f"arn:aws:s3:::{bucket}",
        "Condition": {"StringLike": {"s3:prefix": patterns}},
    }


def _deny_statement(bucket: str) -> dict[str, Any]:
    return {
        "Sid": "NeverDeleteVersionsOrChangeRetention",
        "Effect": "Deny",
        "Action": GUARD_DENY_ACTIONS,
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }


def iam_policy(role: str, bucket: str, prefix: str = "", *, allow_replace: bool = False) -> dict[str, Any]:
    """The IAM policy document for one role on the archive at s3://bucket/prefix."""
    if not bucket or "/" in bucket or "*" in bucket:
        raise ValueError(f"{bucket!r} is not a bucket name")
    if role == "archiver":
        statements = [
            {
                "Sid": "PutAndReadArchiveObjects",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                "Resource": _objects(bucket, prefix, ARCHIVE_FOLDERS),
            },
            _list_statement("ListArchivePrefixes", bucket, prefix, ARCHIVE_FOLDERS),
            {
                "Sid": "ClearWorkingState",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject"],
                "Resource": _objects(bucket, prefix, WORKING_STATE_FOLDERS),
            },
        ]
        if allow_replace:
            statements.append(
                {
                    "Sid": "ReplaceBillingMonth",
                    "Effect": "Allow",
                    "Action": ["s3:DeleteObject"],
                    "Resource": _objects(bucket, prefix, [BILLING_PREFIX]),
                }
            )
        statements.append(_deny_statement(bucket))
    elif role == "restorer":
        statements = [
            {
                "Sid": "RestoreAndReadArchiveObjects",
                "Effect": "Allow",
                "Action": ["s3:RestoreObject", "s3:GetObject"],
                "Resource": _objects(bucket, prefix, ARCHIVE_FOLDERS),
            },
            {
                "Sid": "RecordRestoreRequests",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": _objects(bucket, prefix, [RESTORE_RECORDS_PREFIX]),
            },
            _list_statement(
                "ListArchivePrefixes", bucket, prefix, (*ARCHIVE_FOLDERS, RESTORE_RECORDS_PREFIX)
            ),
            _deny_statement(bucket),
        ]
    elif role == "bucket-admin":
        statements = [
            {
                "Sid": "ManageArchiveBucketSettings",
                "Effect": "Allow",
                "Action": BUCKET_ADMIN_ACTIONS,
                "Resource": f"arn:aws:s3:::{bucket}",
            }
        ]
    else:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return {"Version": "2012-10-17", "Statement": statements}
