"""The weekly GitHub Actions job: Monday 02:00 UTC for the week that just ended (alongside CircleCI)."""

import dagster as dg

from usage_archive.defs.github_actions.assets import GROUP

github_actions_weekly_job = dg.define_asset_job(
    "github_actions_weekly_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Collect one week of GitHub Actions workflow runs and jobs into the archive, and check it.",
)

github_actions_weekly_schedule = dg.build_schedule_from_partitioned_job(
    github_actions_weekly_job,
    name="github_actions_weekly",
    day_of_week=1,
    hour_of_day=2,
    minute_of_hour=0,
)
