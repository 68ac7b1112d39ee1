"""The schedule and the partitions (no GitHub token needed to load)."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from usage_archive.defs.github_actions.assets import WORKFLOW_RUNS_KEY, workflow_runs
from usage_archive.defs.github_actions.schedules import (
    github_actions_weekly_job,
    github_actions_weekly_schedule,
)
from usage_archive.defs.partitions import weekly_partitions
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.github import GitHubResource


def test_monday_0200_utc_runs_the_week_that_just_ended() -> None:
    defs = dg.Definitions(
        assets=[workflow_runs],
        jobs=[github_actions_weekly_job],
        schedules=[github_actions_weekly_schedule],
        resources={"archive_store": ArchiveStoreResource(), "github": GitHubResource()},
    )
    schedule = defs.resolve_schedule_def("github_actions_weekly")
    assert schedule.cron_schedule == "0 2 * * 1"
    assert schedule.execution_timezone == "UTC"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 1, 12, 2, 0, tzinfo=timezone.utc)
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-01-05"
    assert defs.resolve_assets_def(WORKFLOW_RUNS_KEY).partitions_def == weekly_partitions
