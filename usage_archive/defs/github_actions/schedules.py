"""The weekly GitHub Actions jobs: Monday 02:00 UTC for the week that just ended (alongside CircleCI).

Workflow runs and the billing ledger are separate jobs: the ledger needs billing access that many tokens lack,
so its failure (or a stopped schedule) never touches the runs' weekly job, and each job's run log and alerts are
about one thing.
"""

import dagster as dg

from usage_archive.defs.github_actions.assets import BILLING_USAGE_KEY, WORKFLOW_RUNS_KEY

github_actions_weekly_job = dg.define_asset_job(
    "github_actions_weekly_job",
    selection=dg.AssetSelection.assets(WORKFLOW_RUNS_KEY),
    description="Collect one week of GitHub Actions workflow runs and jobs into the archive, and check it.",
)

github_actions_weekly_schedule = dg.build_schedule_from_partitioned_job(
    github_actions_weekly_job,
    name="github_actions_weekly",
    day_of_week=1,
    hour_of_day=2,
    minute_of_hour=0,
)

github_actions_billing_usage_job = dg.define_asset_job(
    "github_actions_billing_usage_job",
    selection=dg.AssetSelection.assets(BILLING_USAGE_KEY),
    description="Read one week of GitHub's billing usage ledger into the archive, and reconcile it with the "
    "estimate from the workflow runs.",
)

github_actions_billing_usage_schedule = dg.build_schedule_from_partitioned_job(
    github_actions_billing_usage_job,
    name="github_actions_billing_usage_weekly",
    day_of_week=1,
    hour_of_day=2,
    minute_of_hour=0,
    description="Monday 02:00 UTC: last week's billing usage ledger (stop it if the token has no billing access)",
)
