"""The schedule, the partitions and the resource wiring (no GitHub token needed to load)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import dagster as dg
import pytest

from usage_archive.defs.github_actions.assets import WORKFLOW_RUNS_KEY, workflow_runs
from usage_archive.defs.github_actions.partitions import github_actions_weekly_partitions
from usage_archive.defs.github_actions.schedules import (
    github_actions_weekly_job,
    github_actions_weekly_schedule,
)
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.github import DEFAULT_API_URL, GitHubResource, build_github_resource


def test_weeks_start_monday_and_only_ended_weeks_are_offered() -> None:
    keys = github_actions_weekly_partitions.get_partition_keys(
        current_time=datetime(2026, 1, 14, tzinfo=timezone.utc)
    )
    assert keys[0] == "2025-01-06" and keys[-1] == "2026-01-05"
    assert all(datetime.fromisoformat(k).weekday() == 0 for k in keys)


def test_monday_0200_utc_runs_the_week_that_just_ended() -> None:
    defs = dg.Definitions(
        assets=[workflow_runs],
        jobs=[github_actions_weekly_job],
        schedules=[github_actions_weekly_schedule],
        resources={"archive_store": ArchiveStoreResource(), "github": GitHubResource()},
    )
    schedule = defs.resolve_schedule_def("github_actions_weekly")
    assert schedule.cron_schedule == "0 2 * * 1" and schedule.execution_timezone == "UTC"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 1, 12, 2, 0, tzinfo=timezone.utc)
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-01-05"
    assert defs.resolve_assets_def(WORKFLOW_RUNS_KEY).partitions_def == github_actions_weekly_partitions


def test_resource_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_TOKEN", "GITHUB_API_URL", "USAGE_ARCHIVE_REPOSITORIES"):
        monkeypatch.delenv(name, raising=False)
    resource = build_github_resource()  # loads without a token; the asset fails clearly at run time
    assert (resource.token, resource.api_url, resource.repositories_file) == (
        None,
        DEFAULT_API_URL,
        "repositories.yml",
    )
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_from_env")
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example.com/api/v3")
    configured = build_github_resource()
    assert isinstance(configured.token, dg.EnvVar)  # resolved at run time, hidden in the UI
    assert os.environ["GITHUB_TOKEN"] not in repr(configured)
