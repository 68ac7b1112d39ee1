"""The week's summary for the Dagster UI: counts, minutes by team and repository, slowest and inactive workflows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

NO_TEAM = "(no team)"


@dataclass(frozen=True)
class WeekSummary:
    runs: int
    jobs: int
    billable_minutes: int
    minutes_by_team: dict[str, int]
    minutes_by_repository: dict[str, int]
    slowest_workflows: list[dict[str, Any]]  # by mean run-attempt duration, longest first
    inactive_workflows: list[dict[str, str]]  # active workflows with no run in the week


def _attempt_durations(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[int]]:
    """Seconds from the first job start to the last job end of every run attempt, grouped by workflow."""
    spans: dict[tuple[str, str, str, int, int], list[Any]] = {}
    for row in rows:
        if row["started_at"] is None or row["completed_at"] is None:
            continue
        key = (
            row["repository"],
            row["workflow_name"] or "",
            row["workflow_path"] or "",
            row["run_id"],
            row["run_attempt"],
        )
        span = spans.setdefault(key, [row["started_at"], row["completed_at"]])
        span[0] = min(span[0], row["started_at"])
        span[1] = max(span[1], row["completed_at"])
    durations: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for (repository, name, path, _run, _attempt), (start, end) in spans.items():
        durations[(repository, name, path)].append(int((end - start).total_seconds()))
    return durations


def summarize(table: pa.Table, info: dict[str, Any], slowest: int = 10) -> WeekSummary:
    """Summarize a week's table and the run list from its footer (see archive_file)."""
    rows = table.select(
        [
            "repository",
            "team",
            "workflow_name",
            "workflow_path",
            "workflow_id",
            "run_id",
            "run_attempt",
            "started_at",
            "completed_at",
            "billable_minutes",
        ]
    ).to_pylist()
    by_team: dict[str, int] = defaultdict(int)
    by_repository: dict[str, int] = defaultdict(int)
    for repository, entry in info["repositories"].items():
        by_team[entry["team"] or NO_TEAM] += 0  # every configured team shows up, even with 0 minutes
        by_repository[repository] += 0
    for row in rows:
        minutes = row["billable_minutes"] or 0
        by_team[row["team"] or NO_TEAM] += minutes
        by_repository[row["repository"]] += minutes

    durations = _attempt_durations(rows)
    ranked = sorted(
        (
            {
                "repository": r,
                "workflow": n,
                "path": p,
                "attempts": len(d),
                "mean_seconds": round(sum(d) / len(d)),
                "max_seconds": max(d),
            }
            for (r, n, p), d in durations.items()
        ),
        key=lambda w: (-w["mean_seconds"], w["repository"], w["workflow"]),
    )

    inactive = []
    for repository, entry in sorted(info["repositories"].items()):
        ran = {run[2] for run in entry["runs"]}
        inactive += [
            {"repository": repository, "workflow": name, "path": path}
            for workflow_id, name, path, state in entry["workflows"]
            if state == "active" and workflow_id not in ran
        ]

    return WeekSummary(
        runs=sum(len(e["runs"]) for e in info["repositories"].values()),
        jobs=table.num_rows,
        billable_minutes=sum(by_repository.values()),
        minutes_by_team=dict(sorted(by_team.items())),
        minutes_by_repository=dict(sorted(by_repository.items())),
        slowest_workflows=ranked[:slowest],
        inactive_workflows=inactive,
    )


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A small Markdown table for MetadataValue.md."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)
