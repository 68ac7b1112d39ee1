"""GitHub's workflow-run and job JSON → one row per job attempt, with durations, billable minutes and cost.

Billing rules ("Actions runner pricing", docs/github_actions.md): each job's minutes are rounded up to the next
whole minute; standard GitHub-hosted runners are free in public repositories; larger runners bill in every
repository; self-hosted runners have no runner charge (a dated `self_hosted` platform-charge rate, disabled by
default, bills their minutes in private/internal repositories when switched on). Which runner ran a job is
decided in runners.py; the price per minute comes from the dated rates table (rates.py) for the day the job
started. The included-minutes multiplier (Linux 1, Windows 2, macOS 10) is its own column, set for standard
runners only, so a change of prices never rewrites the archive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from usage_archive.github_actions.rates import SELF_HOSTED as SELF_HOSTED_RATE
from usage_archive.github_actions.rates import RateTable, shipped_rates
from usage_archive.github_actions.runners import (
    LARGER,
    NO_RUNNER_MAP,
    SELF_HOSTED,
    STANDARD_CLASSES,
    Runner,
    RunnerMap,
    classify_runner,
)

MINUTE_MULTIPLIERS: Mapping[str, int] = {"Linux": 1, "Windows": 2, "macOS": 10}
# Label prefixes of GitHub-hosted images and the generic self-hosted OS labels.
_OS_BY_LABEL_PREFIX = (("ubuntu", "Linux"), ("linux", "Linux"), ("windows", "Windows"), ("macos", "macOS"))
PUBLIC = "public"
VISIBILITIES = ("public", "private", "internal")


def parse_timestamp(value: str | None) -> datetime | None:
    """GitHub's ISO-8601 UTC timestamps ('2026-01-05T10:00:00Z') → aware datetimes; None stays None."""
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return moment.astimezone(timezone.utc)


def runner_os(labels: Iterable[str]) -> str | None:
    """Linux, Windows or macOS from a job's runner labels; None when the labels do not say (custom labels)."""
    for label in labels:
        lowered = label.lower()
        for prefix, os_name in _OS_BY_LABEL_PREFIX:
            if lowered.startswith(prefix):
                return os_name
    return None


def seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    """Whole seconds from start to end, never negative; None when either end is unknown."""
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def billable_minutes(
    run_seconds: int | None, runner: Runner, visibility: str | None, self_hosted_charge: bool = False
) -> int | None:
    """Per-job minutes rounded up, as GitHub bills them; None while the job has not finished, or when the runner
    is unknown (a job of 0 seconds is 0 minutes whatever ran it).

    Standard runners: 0 in public repositories. Larger runners: billed everywhere. Self-hosted: 0, unless the
    self-hosted platform charge applies (`self_hosted_charge`) and the repository is not public. An unknown
    visibility counts as not public (the figure can only be too high, never silently free)."""
    if run_seconds is None:
        return None
    minutes = math.ceil(max(0, run_seconds) / 60)
    if minutes == 0:
        return 0
    public = visibility == PUBLIC
    if runner.runner_class in STANDARD_CLASSES:
        return 0 if public else minutes
    if runner.runner_class == LARGER:
        return minutes
    if runner.runner_class == SELF_HOSTED:
        return minutes if self_hosted_charge and not public else 0
    return None


def job_day(*moments: datetime | None) -> date | None:
    """The UTC day whose rates price a job: the first known of started, created, run created."""
    for moment in moments:
        if moment is not None:
            return moment.astimezone(timezone.utc).date()
    return None


def job_cost(minutes: int | None, rate: Decimal | None) -> Decimal | None:
    """minutes × rate, exact; 0 minutes cost 0 even without a rate; unknown when either is unknown."""
    if minutes == 0:
        return Decimal(0)
    if minutes is None or rate is None:
        return None
    return minutes * rate


def job_row(
    repository: str,
    team: str | None,
    run: Mapping[str, Any],
    job: Mapping[str, Any],
    *,
    visibility: str | None = None,
    runners: RunnerMap = NO_RUNNER_MAP,
    rates: RateTable | None = None,
) -> dict[str, Any]:
    """One archived row: the job attempt, its run's context, the derived durations, runner class and cost."""
    rates = rates if rates is not None else shipped_rates()
    labels = [str(label) for label in job.get("labels") or []]
    created = parse_timestamp(job.get("created_at"))
    started = parse_timestamp(job.get("started_at"))
    completed = parse_timestamp(job.get("completed_at"))
    run_created = parse_timestamp(run.get("created_at"))
    run_seconds = seconds_between(started, completed)
    runner_name = job.get("runner_name") or None
    runner_group = job.get("runner_group_name") or None
    runner = classify_runner(labels, runner_group, runner_name, runners)
    os_name = runner_os(labels) or runner.os_name
    day = job_day(started, created, run_created)
    self_hosted_charge = rates.rate(SELF_HOSTED_RATE, day) is not None
    minutes = billable_minutes(run_seconds, runner, visibility, self_hosted_charge)
    rate = rates.rate(SELF_HOSTED_RATE if runner.runner_class == SELF_HOSTED else runner.rate_key, day)
    standard = runner.runner_class in STANDARD_CLASSES
    return {
        "repository": repository,
        "team": team,
        "workflow_id": run.get("workflow_id"),
        "workflow_name": run.get("name"),
        "workflow_path": run.get("path"),
        "run_id": run["id"],
        "run_number": run.get("run_number"),
        "run_attempt": job.get("run_attempt") or 1,
        "latest_run_attempt": run.get("run_attempt") or 1,
        "event": run.get("event"),
        "head_branch": job.get("head_branch") or run.get("head_branch"),
        "run_conclusion": run.get("conclusion"),
        "job_id": job["id"],
        "job_name": job.get("name"),
        "job_status": job.get("status"),
        "job_conclusion": job.get("conclusion"),
        "run_created_at": run_created,
        "job_created_at": created,
        "started_at": started,
        "completed_at": completed,
        "queue_seconds": seconds_between(created, started),
        "run_seconds": run_seconds,
        "runner_name": runner_name,
        "runner_group_name": runner_group,
        "runner_labels": labels,
        "runner_os": os_name,
        "self_hosted": runner.runner_class == SELF_HOSTED,
        "billable_minutes": minutes,
        "minute_multiplier": MINUTE_MULTIPLIERS[os_name]
        if standard and os_name in MINUTE_MULTIPLIERS
        else None,
        "repository_visibility": visibility,
        "runner_class": runner.runner_class,
        "runner_sku": runner.sku,
        "rate_usd_per_minute": rate,
        "estimated_cost_usd": job_cost(minutes, rate),
    }
