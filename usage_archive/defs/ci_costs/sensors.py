"""`ci_costs_automation` evaluates the automation condition of `ci_costs/weekly_by_team` (`COSTS_FOLLOW_SOURCES`,
assets.py): a week's cost table is rebuilt after any of its sources is stored again: the Monday schedules of
CircleCI and GitHub Actions, an imported CircleCI export, a backfill or a run from the UI."""

import dagster as dg

from usage_archive.defs.ci_costs.assets import WEEKLY_BY_TEAM

ci_costs_automation = dg.AutomationConditionSensorDefinition(
    "ci_costs_automation",
    target=dg.AssetSelection.assets(WEEKLY_BY_TEAM),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Builds ci_costs/weekly_by_team for every week whose CircleCI or GitHub Actions files were stored",
)
