"""`usage-archive`: bucket governance, IAM policies, independent verify, restore and fetch, the latest partition
for CI, and the demo.

Exit codes: 0 fine, 1 a finding (drift, mismatch, restore still pending), 2 an error (bad input, S3 refused).
The archive comes from --archive-url or ARCHIVE_URL (s3://bucket[/prefix] or a local directory, by default
`.archive/` in the working directory); boto3 reads AWS_ENDPOINT_URL and the other AWS_* variables itself.
Settings come from usage_archive.settings. No Dagster import here, so the command starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from usage_archive.archive.layout import BILLING_PREFIX
from usage_archive.archive.store import ArchiveStore, ObjectLockPolicy, parse_archive_url, store_from_url
from usage_archive.periods import Month, Week
from usage_archive.settings import DEFAULT_OBJECT_LOCK_DAYS, DEFAULT_OBJECT_LOCK_MODE, Settings

OK, FINDING, ERROR = 0, 1, 2


class UsageError(ValueError):
    pass


def _archive_url(args: argparse.Namespace) -> str:
    return args.archive_url or Settings.from_env().archive_url


def build_store(args: argparse.Namespace) -> ArchiveStore:
    settings = Settings.from_env()
    return store_from_url(
        _archive_url(args),
        storage_class=settings.storage_class,
        object_lock=ObjectLockPolicy(settings.object_lock_mode, settings.object_lock_days),
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
        default_retention_days=args.default_retention_days,
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


def _targets(args: argparse.Namespace, store: ArchiveStore) -> list[Any]:
    from usage_archive.governance.targets import resolve

    period = None if getattr(args, "all", False) else args.period
    return resolve(store, args.source, period, args.org)


def _nothing(args: argparse.Namespace, store: ArchiveStore) -> int:
    what = " ".join(x for x in (args.source, None if getattr(args, "all", False) else args.period) if x)
    print(f"nothing archived{' for ' + what if what else ''} in {store.uri()}", file=sys.stderr)
    return FINDING


def cmd_verify(args: argparse.Namespace) -> int:
    from usage_archive.governance.audit import summary_table, verify_targets

    store = build_store(args)
    targets = _targets(args, store)
    if not targets:
        return _nothing(args, store)
    results = verify_targets(store, targets)
    if args.json:
        _print_json([r.as_dict() for r in results])
    else:
        if not args.all:
            for f in (f for r in results for f in r.files):
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
    from usage_archive.governance.restore import cli_arguments, poll_restores, request_restores, summarise

    store = build_store(args)
    targets = _targets(args, store)
    if not targets:
        return _nothing(args, store)
    pending = False
    for target in targets:
        if args.status:
            record = poll_restores(store, target)
        else:
            record = request_restores(store, target, tier=args.tier, days=args.days)
            print(
                f"requested {len(record['requested'])} restore(s) for {target.label} "
                f"({args.tier}, readable for {args.days} days once restored)"
            )
        print(summarise(record))
        for entry in record["objects"]:
            print(f"  {entry['state']:<12} {entry['storage_class']:<13} {entry['key']}")
        if record["status"] == "complete":
            print(f"ready: usage-archive fetch {cli_arguments(target)} --to DIR")
        else:
            pending = True
    return FINDING if args.status and pending else OK


def cmd_fetch(args: argparse.Namespace) -> int:
    from pathlib import Path

    from usage_archive.governance.fetch import fetch_period

    store = build_store(args)
    targets = _targets(args, store)
    if not targets:
        return _nothing(args, store)
    for target in targets:
        # Several periods (organisations, or the weeks of a month): one folder each, named by the period.
        destination = Path(args.to) / target.label if len(targets) > 1 else Path(args.to)
        fetched = fetch_period(store, target, destination)
        for path in fetched.files:
            print(f"verified {path}")
        print(
            f"{fetched.period}: {len(fetched.files)} files, {fetched.records} rows, {fetched.bytes} bytes in "
            f"{fetched.directory}"
        )
        if fetched.files:
            print(f"query with DuckDB: duckdb -c \"SELECT count(*) FROM '{fetched.files[0]}'\"")
    return OK


def latest_partitions(source: str, settings: Settings, today: date | None = None) -> list[str]:
    """The partition key(s) of the source's newest complete period: the month that ended last (billing,
    `YYYY-MM-01`), the week that ended last (GitHub Actions, `YYYY-MM-DD`, its Monday); for CircleCI that week,
    or with several organisations configured one `<org>|<YYYY-MM-DD>` key per organisation (the org × week
    partitions of defs/circleci/partitions.py), one per line, in CIRCLECI_ORG_ID's order."""
    if source == "billing":
        month = Month.last_ended(today)
        if month < settings.billing_start_month:
            raise UsageError(
                f"no billing month has ended since BILLING_ARCHIVE_START_MONTH ({settings.billing_start_month})"
            )
        return [month.key]
    week = Week.last_ended(today)
    if week < settings.start_week:
        raise UsageError(f"no week has ended since USAGE_ARCHIVE_START_WEEK ({settings.start_week})")
    orgs = settings.circleci_org_ids() if source == "circleci" else ()
    if len(orgs) > 1:
        return [f"{org}|{week.key}" for org in orgs]
    return [week.key]


def cmd_latest_partition(args: argparse.Namespace) -> int:
    today = date.fromisoformat(args.today) if args.today else None
    for key in latest_partitions(args.source, Settings.from_env(), today):
        print(key)
    return OK


def cmd_demo(args: argparse.Namespace) -> int:
    from usage_archive import demo  # imported late: it pulls in Dagster and the whole code location

    result = demo.main()
    return result if isinstance(result, int) else OK


PERIOD_HELP = (
    "a month YYYY-MM (billing; for a weekly source every archived week starting in it) or a week, its Monday "
    "YYYY-MM-DD (CircleCI, GitHub Actions)"
)


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        choices=["billing", "circleci", "github_actions"],
        help="which source (default: billing for a month, both weekly sources for a week)",
    )
    parser.add_argument(
        "--org", help="circleci: only this organisation's folder (when several organisations are archived)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="usage-archive", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--archive-url", help="s3://bucket[/prefix] or a directory (default: $ARCHIVE_URL, else ./.archive)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    bucket = sub.add_parser(
        "bucket",
        help="make the archive bucket match its settings (apply) or report drift "
        "(check); see docs/operations.md",
    )
    bucket.add_argument("action", choices=["apply", "check"])
    bucket.add_argument(
        "--create", action="store_true", help="apply: create the bucket (with Object Lock) if missing"
    )
    bucket.add_argument(
        "--object-lock-days",
        type=int,
        help="days each billing object is locked from its upload, checked against the billing expiry "
        f"(default $ARCHIVE_OBJECT_LOCK_DAYS or {DEFAULT_OBJECT_LOCK_DAYS})",
    )
    bucket.add_argument(
        "--object-lock-mode",
        choices=["COMPLIANCE", "GOVERNANCE"],
        help=f"billing objects' lock mode, and a default retention's (default $ARCHIVE_OBJECT_LOCK_MODE or "
        f"{DEFAULT_OBJECT_LOCK_MODE})",
    )
    bucket.add_argument(
        "--default-retention-days",
        type=int,
        help="a bucket-wide default retention, only when asked for: it locks every object, usage data included, "
        "so it may not outlast the usage expiry (default $ARCHIVE_BUCKET_DEFAULT_RETENTION_DAYS, else none)",
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
        help=f"archiver: allow re-archiving a month (delete markers under {BILLING_PREFIX}/)",
    )
    iam.set_defaults(func=cmd_iam_policy)

    verify = sub.add_parser(
        "verify",
        help="re-read archived periods against their manifests: sizes, SHA-256, row counts (every source)",
    )
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("--period", help=PERIOD_HELP)
    which.add_argument(
        "--all",
        action="store_true",
        help="every archived period (of --source, else of every source), with a table",
    )
    _source_arguments(verify)
    verify.add_argument("--json", action="store_true", help="print the results as JSON")
    verify.set_defaults(func=cmd_verify)

    restore = sub.add_parser("restore", help="request restores of a period's Glacier objects, or --status")
    restore.add_argument("--period", required=True, help=PERIOD_HELP)
    _source_arguments(restore)
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

    fetch = sub.add_parser("fetch", help="download a period, verified against its manifest")
    fetch.add_argument("--period", required=True, help=PERIOD_HELP)
    _source_arguments(fetch)
    fetch.add_argument(
        "--to", required=True, help="destination directory (one folder per period when several match)"
    )
    fetch.set_defaults(func=cmd_fetch)

    latest = sub.add_parser(
        "latest-partition",
        help="print the partition key of the source's newest complete period (one line per CircleCI "
        "organisation when several are configured), for `dagster asset materialize --partition` in CI",
    )
    latest.add_argument("source", choices=["billing", "circleci", "github_actions"])
    latest.add_argument("--today", help="the day to count from, YYYY-MM-DD (default: today, UTC)")
    latest.set_defaults(func=cmd_latest_partition)

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
