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
from usage_archive.export.month import PeriodError
from usage_archive.governance.audit import summary_table, verify_all, verify_period
from usage_archive.governance.bucket_policy import (
    BucketPolicyError,
    BucketSettings,
    LifecycleError,
    apply_bucket,
    check_bucket,
    settings_from_env,
)
from usage_archive.resources.archive_store import ArchiveStoreResource

GOVERNANCE_TAGS = {"usage_archive/area": "governance"}


class VerifyArchiveConfig(dg.Config):
    period: str = Field(default="", description="the month to verify, YYYY-MM (leave empty with all_months)")
    all_months: bool = Field(default=False, description="verify every archived month")


class BucketSettingsConfig(dg.Config):
    create: bool = Field(
        default=False, description="apply: create the bucket with Object Lock if it is missing"
    )
    object_lock_days: int | None = Field(
        default=None, description="default: ARCHIVE_OBJECT_LOCK_DAYS or 3650"
    )
    object_lock_mode: str | None = Field(
        default=None, description="COMPLIANCE or GOVERNANCE; default: ARCHIVE_OBJECT_LOCK_MODE or COMPLIANCE"
    )
    skip: list[str] | None = Field(
        default=None, description="settings left alone (default: ARCHIVE_BUCKET_SKIP)"
    )


@dg.op(
    description="Re-read manifests and objects from the archive: sizes, SHA-256, Parquet row counts.",
    tags=GOVERNANCE_TAGS,
)
def verify_archive(
    context: dg.OpExecutionContext, config: VerifyArchiveConfig, archive_store: ArchiveStoreResource
) -> None:
    if bool(config.period) == config.all_months:
        raise dg.Failure("set either period (YYYY-MM) or all_months, not both and not neither")
    store = archive_store.get_store()
    try:
        results = verify_all(store) if config.all_months else [verify_period(store, config.period)]
    except (PeriodError, ArchiveStoreError) as exc:
        raise dg.Failure(f"{type(exc).__name__}: {exc}") from None
    table = summary_table(results)
    context.log.info(f"verified {len(results)} month(s) in {store.uri()}:\n{table}")
    problems = [p for r in results for p in r.problems]
    if problems:
        raise dg.Failure(
            description=f"{len(problems)} mismatch(es) in {store.uri()}: " + "; ".join(problems[:10]),
            metadata={
                "summary": dg.MetadataValue.md(f"```\n{table}\n```"),
                "problems": dg.MetadataValue.json(problems),
            },
            allow_retries=False,
        )


@dg.job(tags=GOVERNANCE_TAGS)
def archive_verify_job() -> None:
    """Independent verify of one month (config period) or all months, from the store alone."""
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
            skip=tuple(config.skip) if config.skip is not None else None,
        )
        report = action(store.client, settings)
    except (ValueError, LifecycleError, BucketPolicyError) as exc:
        raise dg.Failure(str(exc), allow_retries=False) from None
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
            description=f"bucket {report.bucket} drifted from its settings: "
            + "; ".join(d.describe() for d in report.drift)
            + " (run bucket_apply_job to fix)",
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
