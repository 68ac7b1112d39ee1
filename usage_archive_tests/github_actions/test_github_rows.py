from __future__ import annotations

from datetime import datetime, timezone

import pytest

from usage_archive.github_actions.rows import billable_minutes, job_row, runner_os
from usage_archive_tests.fakes.github_api import make_job, make_run

UTC = timezone.utc
RUN = make_run(7, datetime(2026, 1, 6, 10, 0, tzinfo=UTC), run_attempt=2, repository="octo/api")


@pytest.mark.parametrize(
    ("labels", "os_name"),
    [
        (["ubuntu-latest"], "Linux"),
        (["ubuntu-24.04-arm"], "Linux"),
        (["windows-2022"], "Windows"),
        (["macos-14"], "macOS"),
        (["self-hosted", "Linux", "X64"], "Linux"),
        (["gpu-large"], None),
        ([], None),
    ],
)
def test_runner_os_from_labels(labels: list[str], os_name: str | None) -> None:
    assert runner_os(labels) == os_name


@pytest.mark.parametrize(
    ("seconds", "self_hosted", "minutes"),
    [
        (0, False, 0),
        (1, False, 1),
        (60, False, 1),
        (61, False, 2),
        (3599, False, 60),
        (500, True, 0),
        (None, False, None),
    ],
)
def test_billable_minutes_round_up_per_job(
    seconds: int | None, self_hosted: bool, minutes: int | None
) -> None:
    assert billable_minutes(seconds, self_hosted) == minutes


def test_job_row_keeps_times_durations_and_multiplier() -> None:
    row = job_row(
        "octo/api",
        "platform",
        RUN,
        make_job(70, RUN, attempt=1, queued_seconds=30, run_seconds=125, labels=["macos-14"]),
    )
    assert row["run_attempt"] == 1 and row["latest_run_attempt"] == 2
    assert row["started_at"] == datetime(2026, 1, 6, 10, 0, 30, tzinfo=UTC)
    assert row["started_at"].tzinfo is not None
    assert (row["queue_seconds"], row["run_seconds"], row["billable_minutes"]) == (30, 125, 3)
    assert (row["runner_os"], row["minute_multiplier"], row["self_hosted"]) == ("macOS", 10, False)
    assert (row["workflow_name"], row["workflow_path"], row["event"]) == (
        "CI",
        ".github/workflows/ci.yml",
        "push",
    )


def test_unfinished_and_self_hosted_jobs() -> None:
    running = job_row("octo/api", None, RUN, make_job(71, RUN, run_seconds=None))
    assert (
        running["completed_at"] is None
        and running["run_seconds"] is None
        and running["billable_minutes"] is None
    )
    own = job_row(
        "octo/api", None, RUN, make_job(72, RUN, labels=["self-hosted", "Windows"], run_seconds=600)
    )
    assert (own["self_hosted"], own["billable_minutes"], own["minute_multiplier"], own["runner_os"]) == (
        True,
        0,
        None,
        "Windows",
    )
