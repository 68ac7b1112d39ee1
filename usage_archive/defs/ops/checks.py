"""Freshness: flag a month or week that was not archived on time.

Time-partition freshness checks, defined here by asset key so the source folders stay untouched. Each one
passes when the newest partition that has ended was materialized by its deadline (schedule time plus a grace
period for retries): billing runs on the 2nd at 03:00 UTC → deadline 09:00; the weekly CircleCI and GitHub
Actions archives run Mondays 02:00 UTC → deadline 08:00. The freshness sensor evaluates them after each
deadline; a failed one is posted to the alert webhook by `alert_on_stale_archive` (sensors.py).
"""

import dagster as dg

FRESHNESS_CHECK_NAME = "freshness_check"  # the name Dagster gives these checks
MONTHLY_ASSETS = [dg.AssetKey(["billing", "manifest"])]  # written last, so it stands for the whole month
WEEKLY_ASSETS = [
    dg.AssetKey(["circleci", "usage_csv"]),
    dg.AssetKey(["circleci", "usage_hierarchical_json"]),
    dg.AssetKey(["github_actions", "workflow_runs"]),
]
MONTHLY_DEADLINE = "0 9 2 * *"
WEEKLY_DEADLINE = "0 8 * * 1"

monthly_freshness_checks = dg.build_time_partition_freshness_checks(
    assets=MONTHLY_ASSETS,
    deadline_cron=MONTHLY_DEADLINE,
    timezone="UTC",
    severity=dg.AssetCheckSeverity.ERROR,
)
weekly_freshness_checks = dg.build_time_partition_freshness_checks(
    assets=WEEKLY_ASSETS,
    deadline_cron=WEEKLY_DEADLINE,
    timezone="UTC",
    severity=dg.AssetCheckSeverity.ERROR,
)
freshness_checks = [*monthly_freshness_checks, *weekly_freshness_checks]

freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=freshness_checks,
    name="archive_freshness_checks",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
