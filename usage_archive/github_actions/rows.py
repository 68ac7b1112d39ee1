"""GitHub's workflow-run and job JSON → one row per job attempt, with durations and billable minutes.

Billing rules (GitHub docs, "About billing for GitHub Actions"): each job's minutes are rounded up to the next
whole minute; self-hosted runners are free; the included-minutes multipliers are Linux 1, Windows 2, macOS 10.
The multiplier is kept as its own column so that a change of prices never rewrites the archive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

MINUTE_MULTIPLIERS: Mapping[str, int] = {"Linux": 1, "Windows": 2, "macOS": 10}
# Label prefixes of GitHub-hosted images and the generic self-hosted OS labels.
_OS_BY_LABEL_PREFIX = (("ubuntu", "Linux"), ("linux", "Linux"), ("windows", "Windows"), ("macos", "macOS"))
SELF_HOSTED_LABEL = "self-hosted"


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


def is_self_hosted(labels: Iterable[str]) -> bool:
    return any(label.lower() == SELF_HOSTED_LABEL for label in labels)


def seconds_between(start: datetime | None, end: datetime | None) -> int | None:
    """Whole seconds from start to end, never negative; None when either end is unknown."""
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def billable_minutes(run_seconds: int | None, self_hosted: bool) -> int | None:
    """Per-job minutes rounded up; 0 on self-hosted runners; None while the job has not finished."""
    if run_seconds is None:
        return None
    if self_hosted:
        return 0
    return math.ceil(run_seconds / 60)


def job_row(
    repository: str, team: str | None, run: Mapping[str, Any], job: Mapping[str, Any]
) -> dict[str, Any]:
    """One archived row: the job attempt, its run's context and the derived durations."""
    labels = [str(label) for label in job.get("labels") or []]
    created = parse_timestamp(job.get("created_at"))
    started = parse_timestamp(job.get("started_at"))
    completed = parse_timestamp(job.get("completed_at"))
    run_seconds = seconds_between(started, completed)
    self_hosted = is_self_hosted(labels)
    os_name = runner_os(labels)
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
        "run_created_at": parse_timestamp(run.get("created_at")),
        "job_created_at": created,
        "started_at": started,
        "completed_at": completed,
        "queue_seconds": seconds_between(created, started),
        "run_seconds": run_seconds,
        "runner_name": job.get("runner_name") or None,
        "runner_group_name": job.get("runner_group_name") or None,
        "runner_labels": labels,
        "runner_os": os_name,
        "self_hosted": self_hosted,
        "billable_minutes": billable_minutes(run_seconds, self_hosted),
        "minute_multiplier": None if self_hosted or os_name is None else MINUTE_MULTIPLIERS[os_name],
    }
