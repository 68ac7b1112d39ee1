"""Every Monday 02:00 UTC: the week that just ended, for every configured organisation. Both assets are in the
job, so the JSON follows the CSV in the same run (and the blocking checks run after it)."""

from datetime import timedelta
from typing import Any

import dagster as dg

from usage_archive.circleci.weekly import week_start_of
from usage_archive.defs.circleci.assets import GROUP, USAGE_CSV, USAGE_JSON
from usage_archive.defs.circleci.partitions import (
    CIRCLECI_ORG_IDS,
    circleci_weekly_partitions,
    partition_key_for,
)

circleci_weekly_usage_job = dg.define_asset_job(
    "circleci_weekly_usage",
    selection=dg.AssetSelection.assets(USAGE_CSV, USAGE_JSON),
    tags={"usage_archive/source": GROUP},
    description="Export one week of CircleCI usage, store the merged CSV, derive the hierarchical JSON, check it.",
)


def build_weekly_schedule(
    job: Any = circleci_weekly_usage_job,
    org_ids: tuple[str, ...] = CIRCLECI_ORG_IDS,
    partitions_def: dg.PartitionsDefinition = circleci_weekly_partitions,
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="circleci_weekly_usage_schedule",
        cron_schedule="0 2 * * 1",
        execution_timezone="UTC",
        job=job,
        description="Monday 02:00 UTC: last week's CircleCI usage, one run per organisation",
    )
    def circleci_weekly_usage_schedule(context: dg.ScheduleEvaluationContext) -> Any:
        if not org_ids:
            return dg.SkipReason("CIRCLECI_ORG_ID is not set: no organisation to archive")
        week = week_start_of(context.scheduled_execution_time.date()) - timedelta(days=7)
        return [
            dg.RunRequest(
                run_key=f"{org}|{week:%Y-%m-%d}", partition_key=partition_key_for(org, week, partitions_def)
            )
            for org in (org_ids if isinstance(partitions_def, dg.MultiPartitionsDefinition) else org_ids[:1])
        ]

    return circleci_weekly_usage_schedule


circleci_weekly_usage_schedule = build_weekly_schedule()
