"""Every Monday 02:00 UTC: the week that just ended, for every configured organisation (one run per
organisation when several are configured: Dagster's schedule for a multi-partitioned job requests every org of
the newest week). Both assets are in the job, so the JSON follows the CSV in the same run (and the blocking
checks run after it)."""

from typing import Any

import dagster as dg

from usage_archive.defs.circleci.assets import GROUP, USAGE_CSV, USAGE_JSON

circleci_weekly_usage_job = dg.define_asset_job(
    "circleci_weekly_usage",
    selection=dg.AssetSelection.assets(USAGE_CSV, USAGE_JSON),
    tags={"usage_archive/source": GROUP},
    description="Export one week of CircleCI usage, store the merged CSV, derive the hierarchical JSON, check it.",
)


def build_weekly_schedule(job: Any = circleci_weekly_usage_job) -> Any:
    """The schedule of `job` (an asset job resolved against its assets' partitions when Definitions load)."""
    return dg.build_schedule_from_partitioned_job(
        job,
        name="circleci_weekly_usage_schedule",
        day_of_week=1,
        hour_of_day=2,
        minute_of_hour=0,
        description="Monday 02:00 UTC: last week's CircleCI usage, one run per organisation",
    )


circleci_weekly_usage_schedule = build_weekly_schedule()
