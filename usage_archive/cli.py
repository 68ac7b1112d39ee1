"""`usage-archive`: bucket governance, IAM policies, independent verify, restore and fetch, and the demo.

Exit codes: 0 fine, 1 a finding (drift, mismatch, restore still pending), 2 an error (bad input, S3 refused).
The archive comes from --archive-url or ARCHIVE_URL (s3://bucket[/prefix] or a local directory); boto3 reads
AWS_ENDPOINT_URL and the other AWS_* variables itself. No Dagster import here, so the command starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from usage_archive.archive.store import ArchiveStore, LocalArchiveStore, S3ArchiveStore, parse_archive_url

DEFAULT_ARCHIVE_DIR = str(Path(__file__).resolve().parents[1] / ".archive")  # as usage_archive.resources
OK, FINDING, ERROR = 0, 1, 2


class UsageError(ValueError):
    pass


def _archive_url(args: argparse.Namespace) -> str:
    return args.archive_url or os.environ.get("ARCHIVE_URL") or DEFAULT_ARCHIVE_DIR


def build_store(url: str) -> ArchiveStore:
    scheme, location, prefix = parse_archive_url(url)
    if scheme == "file":
        return LocalArchiveStore(location)
    import boto3

    return S3ArchiveStore(
        boto3.client("s3"),
        location,
        prefix,
        storage_class=os.environ.get("ARCHIVE_STORAGE_CLASS") or "INTELLIGENT_TIERING",
    )


def _s3_location(args: argparse.Namespace) -> tuple[str, str]:
    scheme, bucket, prefix = parse_archive_url(_archive_url(args))
    if scheme != "s3":
        raise UsageError(
            f"{_archive_url(args)!r} is a local directory: bucket settings and IAM policies need "
            "ARCHIVE_URL=s3://bucket[/prefix] (or --archive-url)"
        )
    return bucket, prefix


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def cmd_bucket(args: argparse.Namespace) -> int:
    import boto3

    from usage_archive.governance.bucket_policy import apply_bucket, check_bucket, settings_from_env

    bucket, prefix = _s3_location(args)
    skip = (
        tuple(p.strip().lower().replace("-", "_") for p in args.skip.split(",") if p.strip())
        if args.skip
        else None
    )
    settings = settings_from_env(
        bucket,
        prefix,
        object_lock_days=args.object_lock_days,
        object_lock_mode=args.object_lock_mode,
        skip=skip,
    )
    client = boto3.client("s3")
    if args.action == "apply":
        report = apply_bucket(client, settings, create=args.create)
        print("\n".join(report.lines()))
        return OK
    report = check_bucket(client, settings)
    print("\n".join(report.lines()))
    if report.drift:
        print(
            f"{len(report.drift)} setting(s) drifted: run `usage-archive bucket apply` to restore them",
            file=sys.stderr,
        )
        return FINDING
    return OK


def cmd_iam_policy(args: argparse.Namespace) -> int:
    from usage_archive.governance.iam import iam_policy

    bucket, prefix = (args.bucket, args.prefix) if args.bucket else _s3_location(args)
    _print_json(iam_policy(args.role, bucket, prefix, allow_replace=args.allow_replace))
    return OK


def cmd_verify(args: argparse.Namespace) -> int:
    from usage_archive.governance.audit import summary_table, verify_all, verify_period

    store = build_store(_archive_url(args))
    if args.all:
        results = verify_all(store)
        if not results:
            print(f"no archived months in {store.uri()}", file=sys.stderr)
            return FINDING
    else:
        results = [verify_period(store, args.period)]
    if args.json:
        _print_json([r.as_dict() for r in results])
    else:
        if not args.all:
            for f in results[0].files:
                print(
                    f"{f.status:<28} {f.key}  rows={f.parquet_records} bytes={f.stored_bytes} "
                    f"class={f.storage_class}"
                )
        print(summary_table(results))
        for r in results:
            for problem in r.problems:
                print(f"MISMATCH {problem}", file=sys.stderr)
    return OK if all(r.ok for r in results) else FINDING


def cmd_restore(args: argparse.Namespace) -> int:
    from usage_archive.governance.restore import poll_restores, request_restores, summarise

    store = build_store(_archive_url(args))
    if args.status:
        record = poll_restores(store, args.period)
    else:
        record = request_restores(store, args.period, tier=args.tier, days=args.days)
        print(
            f"requested {len(record['requested'])} restore(s) for {record['period']} "
            f"({args.tier}, readable for {args.days} days once restored)"
        )
    print(summarise(record))
    for entry in record["objects"]:
        print(f"  {entry['state']:<12} {entry['storage_class']:<13} {entry['key']}")
    if record["status"] == "complete":
        print(f"ready: usage-archive fetch --period {record['period']} --to DIR")
        return OK
    return FINDING if args.status else OK


def cmd_fetch(args: argparse.Namespace) -> int:
    from usage_archive.governance.fetch import fetch_month

    fetched = fetch_month(build_store(_archive_url(args)), args.period, args.to)
    for path in fetched.files:
        print(f"verified {path}")
    print(
        f"{fetched.period}: {len(fetched.files)} files, {fetched.records} rows, {fetched.bytes} bytes in "
        f"{fetched.directory}"
    )
    if fetched.files:
        print(f"query with DuckDB: duckdb -c \"SELECT count(*) FROM '{fetched.files[0]}'\"")
    return OK


def cmd_demo(args: argparse.Namespace) -> int:
    from usage_archive import demo  # written by the lead; imported late, it pulls in heavier modules

    result = demo.main()
    return result if isinstance(result, int) else OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usage-archive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive-url", help="s3://bucket[/prefix] or a directory (default: $ARCHIVE_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    bucket = sub.add_parser(
        "bucket", help="make the archive bucket match the SPEC (apply) or report drift (check)"
    )
    bucket.add_argument("action", choices=["apply", "check"])
    bucket.add_argument(
        "--create", action="store_true", help="apply: create the bucket (with Object Lock) if missing"
    )
    bucket.add_argument(
        "--object-lock-days",
        type=int,
        help="default retention in days (default $ARCHIVE_OBJECT_LOCK_DAYS or 3650)",
    )
    bucket.add_argument(
        "--object-lock-mode",
        choices=["COMPLIANCE", "GOVERNANCE"],
        help="default $ARCHIVE_OBJECT_LOCK_MODE or COMPLIANCE",
    )
    bucket.add_argument(
        "--skip",
        help="comma-separated settings to leave alone, e.g. public_access_block,lifecycle "
        "on MinIO (default $ARCHIVE_BUCKET_SKIP)",
    )
    bucket.set_defaults(func=cmd_bucket)

    iam = sub.add_parser("iam-policy", help="print a least-privilege IAM policy as JSON")
    iam.add_argument("--role", choices=["archiver", "restorer", "bucket-admin"], default="archiver")
    iam.add_argument("--bucket", help="bucket name (default: from ARCHIVE_URL)")
    iam.add_argument("--prefix", default="", help="archive root inside the bucket, with --bucket")
    iam.add_argument(
        "--allow-replace",
        action="store_true",
        help="archiver: allow re-archiving a month (delete markers under billing-archive/)",
    )
    iam.set_defaults(func=cmd_iam_policy)

    verify = sub.add_parser("verify", help="re-read archived months: sizes, SHA-256, Parquet row counts")
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("--period", help="YYYY-MM")
    which.add_argument("--all", action="store_true", help="every archived month, with a summary table")
    verify.add_argument("--json", action="store_true", help="print the results as JSON")
    verify.set_defaults(func=cmd_verify)

    restore = sub.add_parser("restore", help="request restores of a month's Glacier objects, or --status")
    restore.add_argument("--period", required=True, help="YYYY-MM")
    restore.add_argument(
        "--tier",
        choices=["Standard", "Bulk", "Expedited"],
        default="Standard",
        help="Standard (≤12 h from DEEP_ARCHIVE) or Bulk (≤48 h); Expedited is refused for DEEP_ARCHIVE",
    )
    restore.add_argument(
        "--days", type=int, default=7, help="days the restored copy stays readable (default 7)"
    )
    restore.add_argument("--status", action="store_true", help="only report the state of the last request")
    restore.set_defaults(func=cmd_restore)

    fetch = sub.add_parser("fetch", help="download a month, verified against its manifest")
    fetch.add_argument("--period", required=True, help="YYYY-MM")
    fetch.add_argument("--to", required=True, help="destination directory")
    fetch.set_defaults(func=cmd_fetch)

    demo = sub.add_parser("demo", help="run the local end-to-end demo")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return args.func(args)
    except (ValueError, RuntimeError, OSError, BotoCoreError, ClientError) as exc:
        # Our errors name the object and the cause; botocore's name the S3 error code. Neither carries secrets.
        print(f"usage-archive {args.command}: error: {exc}", file=sys.stderr)
        return ERROR


if __name__ == "__main__":
    sys.exit(main())
