"""Governance jobs: make the bucket match its settings (or report drift), and verify archived months.

They call the same plain functions as `usage-archive bucket apply|check` and `usage-archive verify`, so the UI
and the command line cannot disagree. A finding (drift, a mismatch) fails the run, which the run-failure sensor
turns into an alert.
"""

from collections.abc import Callable
from typing import Any

import dagster as dg
from pydantic import Field

from usage_archive.archive.store import ArchiveStoreError, S3ArchiveStore
from usage_archive.dagster_helpers import as_failure, describe_problems
from usage_archive.governance.audit import summary_table, verify_targets
from usage_archive.governance.bucket_policy import (
    BucketPolicyError,
    BucketSettings,
    LifecycleError,
    apply_bucket,
    check_bucket,
    settings_from_env,
)
from usage_archive.governance.targets import BILLING, SOURCES, TargetError, resolve
from usage_archive.periods import PeriodError
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.settings import DEFAULT_OBJECT_LOCK_DAYS, DEFAULT_OBJECT_LOCK_MODE

GOVERNANCE_TAGS = {"usage_archive/area": "governance"}


class VerifyArchiveConfig(dg.Config):
    period: str = Field(
        default="",
        description="the period to verify: a month YYYY-MM, or a week's Monday YYYY-MM-DD for a weekly source "
        "(leave empty with all_months)",
    )
    all_months: bool = Field(default=False, description="verify every archived period of the source(s)")
    source: str = Field(
        default=BILLING, description=f"{', '.join(SOURCES)}, or all (all_months only: every source)"
    )
    org: str = Field(default="", description="circleci: only this organisation's folder")


class BucketSettingsConfig(dg.Config):
    create: bool = Field(
        default=False, description="apply: create the bucket with Object Lock if it is missing"
    )
    object_lock_days: int | None = Field(
        default=None,
        description="days each billing object is locked from its upload (checked against the billing expiry); "
        f"default: ARCHIVE_OBJECT_LOCK_DAYS or {DEFAULT_OBJECT_LOCK_DAYS}",
    )
    default_retention_days: int | None = Field(
        default=None,
        description="a bucket-wide default retention, only when asked for (never past the usage expiry); "
        "default: ARCHIVE_BUCKET_DEFAULT_RETENTION_DAYS, else none",
    )
    object_lock_mode: str | None = Field(
        default=None,
        description=f"COMPLIANCE or GOVERNANCE; default: ARCHIVE_OBJECT_LOCK_MODE or {DEFAULT_OBJECT_LOCK_MODE}",
    )
    skip: list[str] | None = Field(
        default=None, description="settings left alone (default: ARCHIVE_BUCKET_SKIP)"
    )


@dg.op(
    description="Re-read manifests and objects from the archive: sizes, SHA-256, row counts (every source).",
    tags=GOVERNANCE_TAGS,
)
def verify_archive(
    context: dg.OpExecutionContext, config: VerifyArchiveConfig, archive_store: ArchiveStoreResource
) -> None:
    if bool(config.period) == config.all_months:
        raise dg.Failure("set either period (YYYY-MM, or a Monday) or all_months, not both and not neither")
    store = archive_store.get_store()
    source = None if config.source == "all" else config.source
    try:
        targets = resolve(store, source, None if config.all_months else config.period, config.org or None)
        results = verify_targets(store, targets)
    except (PeriodError, TargetError, ArchiveStoreError) as exc:
        raise as_failure(exc) from None
    table = summary_table(results)
    context.log.info(f"verified {len(results)} period(s) in {store.uri()}:\n{table}")
    problems = [p for r in results for p in r.problems]
    if problems:
        raise dg.Failure(
            description=f"{len(problems)} mismatch(es) in {store.uri()}: {describe_problems(problems)}",
            metadata={
                "summary": dg.MetadataValue.md(f"```\n{table}\n```"),
                "problems": dg.MetadataValue.json(problems),
            },
            allow_retries=False,
        )


@dg.job(tags=GOVERNANCE_TAGS)
def archive_verify_job() -> None:
    """Independent verify of one period (config period, source, org) or all of them, from the store alone."""
    verify_archive()


def _bucket_report(
    context: dg.OpExecutionContext,
    config: BucketSettingsConfig,
    archive_store: ArchiveStoreResource,
    action: Callable[[Any, BucketSettings], Any],
) -> Any:
    """Run `action(client, settings)` (apply or check) on the archive bucket and log its report; None when the
    archive is a local directory."""
    store = archive_store.get_store()
    if not isinstance(store, S3ArchiveStore):
        context.log.info(f"{store.uri()} is a local directory: no bucket settings to manage")
        return None
    try:
        settings = settings_from_env(
            store.bucket,
            store.prefix,
            object_lock_days=config.object_lock_days,
            object_lock_mode=config.object_lock_mode,
            default_retention_days=config.default_retention_days,
            skip=tuple(config.skip) if config.skip is not None else None,
        )
        report = action(store.client, settings)
    except (ValueError, LifecycleError, BucketPolicyError) as exc:
        raise as_failure(exc) from None
    context.log.info("\n".join(report.lines()))
    return report


@dg.op(
    description="Make the archive bucket match its settings (versioning, Object Lock, encryption, public "
    "access block, lifecycle); changes only what differs.",
    tags=GOVERNANCE_TAGS,
)
def apply_bucket_settings(
    context: dg.OpExecutionContext, config: BucketSettingsConfig, archive_store: ArchiveStoreResource
) -> None:
    _bucket_report(
        context,
        config,
        archive_store,
        lambda client, settings: apply_bucket(client, settings, create=config.create),
    )


@dg.op(
    description="Report drift between the archive bucket and its settings; changes nothing.",
    tags=GOVERNANCE_TAGS,
)
def check_bucket_settings(
    context: dg.OpExecutionContext, config: BucketSettingsConfig, archive_store: ArchiveStoreResource
) -> None:
    report = _bucket_report(context, config, archive_store, check_bucket)
    if report is not None and report.drift:
        raise dg.Failure(
            description=f"bucket {report.bucket} drifted from its settings (run bucket_apply_job to fix): "
            + describe_problems([d.describe() for d in report.drift]),
            metadata={"drift": dg.MetadataValue.json([d.describe() for d in report.drift])},
            allow_retries=False,
        )


@dg.job(tags=GOVERNANCE_TAGS)
def bucket_apply_job() -> None:
    """`usage-archive bucket apply` as a Dagster job."""
    apply_bucket_settings()


@dg.job(tags=GOVERNANCE_TAGS)
def bucket_check_job() -> None:
    """`usage-archive bucket check` as a Dagster job: fails on drift."""
    check_bucket_settings()


verify_all_monthly_schedule = dg.ScheduleDefinition(
    name="archive_verify_monthly",
    job=archive_verify_job,
    cron_schedule="0 6 3 * *",
    execution_timezone="UTC",
    run_config={"ops": {"verify_archive": {"config": {"all_months": True}}}},
    description="Verify every archived month on the 3rd, the day after the billing archive runs.",
)
bucket_drift_daily_schedule = dg.ScheduleDefinition(
    name="bucket_drift_daily",
    job=bucket_check_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    description="Report bucket-settings drift every day (a failed run raises an alert).",
)
