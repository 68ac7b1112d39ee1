"""Freshness: flag a month or week that was not archived on time.

Time-partition freshness checks on the sources' asset keys (imported from their folders). Each one
passes when the newest partition that has ended was materialized by its deadline (schedule time plus a grace
period for retries): billing runs on the 2nd at 03:00 UTC → deadline 09:00; the weekly CircleCI and GitHub
Actions archives run Mondays 02:00 UTC → deadline 08:00. The freshness sensor evaluates them after each
deadline; a failed one is posted to the alert webhook by `alert_on_stale_archive` (sensors.py).
"""

import dagster as dg

from usage_archive.defs.billing.assets import MANIFEST_KEY
from usage_archive.defs.circleci.assets import USAGE_CSV, USAGE_JSON
from usage_archive.defs.github_actions.assets import WORKFLOW_RUNS_KEY

# Kept on the time-partition freshness checks, which Dagster 1.13 marks superseded by `FreshnessPolicy`,
# because the replacement does not say the same thing: `FreshnessPolicy.cron` judges an asset by its newest
# materialization of any partition (a backfill of an old month would pass for this month), it is evaluated only
# by a daemon that dagster.yaml must enable (`freshness: enabled`), and its verdicts are state-change events,
# not check evaluations: the `freshness_check` checks (names the UI and the alerts know) would disappear, and
# `alert_on_stale_archive` would have to poll the event log, as no sensor kind watches those events.
FRESHNESS_CHECK_NAME = "freshness_check"  # the name Dagster gives these checks
MONTHLY_ASSETS = [MANIFEST_KEY]  # written last, so it stands for the whole month
WEEKLY_ASSETS = [USAGE_CSV, USAGE_JSON, WORKFLOW_RUNS_KEY]
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
