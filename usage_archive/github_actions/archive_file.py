"""The weekly Parquet file: an explicit Arrow schema, zstd, and the week's run list embedded in the footer.

The footer (key-value metadata `usage_archive.github_actions`) records, per repository, every run the API listed
for the week with the number of jobs GitHub reported for it, and the repository's workflows. That is what lets a
check prove that no run was dropped (a run without jobs leaves no row) and lets the metrics name inactive
workflows. Per-repository progress files use the same format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from usage_archive.archive.parquet_footer import (
    read_with_footer,
    require_columns,
    with_footer,
)

INFO_KEY = b"usage_archive.github_actions"
SCHEMA_VERSION = 2  # 2 added the cost columns (ADDED_IN_V2)
TIMESTAMP = pa.timestamp("us", tz="UTC")
USD_PER_MINUTE = pa.decimal128(12, 6)  # rates have at most 6 decimals (rates.RATE_PLACES)
USD = pa.decimal128(18, 6)  # whole minutes × a 6-decimal rate: exact

WORKFLOW_RUNS_SCHEMA = pa.schema(
    [
        pa.field("repository", pa.string(), nullable=False),
        pa.field("team", pa.string()),
        pa.field("workflow_id", pa.int64()),
        pa.field("workflow_name", pa.string()),
        pa.field("workflow_path", pa.string()),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("run_number", pa.int64()),
        pa.field("run_attempt", pa.int32(), nullable=False),
        pa.field("latest_run_attempt", pa.int32()),
        pa.field("event", pa.string()),
        pa.field("head_branch", pa.string()),
        pa.field("run_conclusion", pa.string()),
        pa.field("job_id", pa.int64(), nullable=False),
        pa.field("job_name", pa.string()),
        pa.field("job_status", pa.string()),
        pa.field("job_conclusion", pa.string()),
        pa.field("run_created_at", TIMESTAMP),
        pa.field("job_created_at", TIMESTAMP),
        pa.field("started_at", TIMESTAMP),
        pa.field("completed_at", TIMESTAMP),
        pa.field("queue_seconds", pa.int64()),
        pa.field("run_seconds", pa.int64()),
        pa.field("runner_name", pa.string()),
        pa.field("runner_group_name", pa.string()),
        pa.field("runner_labels", pa.list_(pa.string())),
        pa.field("runner_os", pa.string()),
        pa.field("self_hosted", pa.bool_(), nullable=False),
        pa.field("billable_minutes", pa.int64()),
        pa.field("minute_multiplier", pa.int32()),
        pa.field("repository_visibility", pa.string()),
        pa.field("runner_class", pa.string()),
        pa.field("runner_sku", pa.string()),
        pa.field("rate_usd_per_minute", USD_PER_MINUTE),
        pa.field("estimated_cost_usd", USD),
    ]
)
# Columns files of schema version 1 lack; reading such a file gives them as nulls (nothing was known then).
ADDED_IN_V2 = (
    "repository_visibility",
    "runner_class",
    "runner_sku",
    "rate_usd_per_minute",
    "estimated_cost_usd",
)
SORT_KEYS = [
    ("repository", "ascending"),
    ("run_id", "ascending"),
    ("run_attempt", "ascending"),
    ("job_id", "ascending"),
]


class ArchiveFileError(ValueError):
    """A stored file that is not a workflow-runs archive of this schema."""


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    run_attempt: int  # the latest attempt when the run was listed
    workflow_id: int | None
    jobs: int  # total_count GitHub reported for /runs/{id}/jobs?filter=all (every attempt)


@dataclass(frozen=True)
class WorkflowRecord:
    workflow_id: int
    name: str
    path: str
    state: str


@dataclass
class RepositoryData:
    """Everything collected for one repository in one week."""

    repository: str
    team: str | None
    table: pa.Table
    runs: list[RunRecord] = field(default_factory=list)
    workflows: list[WorkflowRecord] = field(default_factory=list)
    visibility: str | None = None  # public / private / internal, from the repository JSON of this week

    def info(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "visibility": self.visibility,
            "runs": [[r.run_id, r.run_attempt, r.workflow_id, r.jobs] for r in self.runs],
            "workflows": [[w.workflow_id, w.name, w.path, w.state] for w in self.workflows],
        }


def rows_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Rows (dicts keyed by column) → a table of exactly WORKFLOW_RUNS_SCHEMA; a wrong value fails loudly."""
    return pa.Table.from_pylist(list(rows), schema=WORKFLOW_RUNS_SCHEMA)


def _with_info(table: pa.Table, repositories: dict[str, dict[str, Any]], week: str | None) -> pa.Table:
    info = {"schema_version": SCHEMA_VERSION, "week": week, "repositories": repositories}
    return with_footer(table, INFO_KEY, json.dumps(info, separators=(",", ":")))


def repository_table(data: RepositoryData, week: str | None = None) -> pa.Table:
    return _with_info(data.table, {data.repository: data.info()}, week)


def week_table(repositories: Iterable[RepositoryData], week: str) -> pa.Table:
    """All repositories of a week in one table, sorted, with the combined run list in its metadata."""
    items = sorted(repositories, key=lambda d: d.repository.lower())
    tables = [d.table.cast(WORKFLOW_RUNS_SCHEMA) for d in items] or [WORKFLOW_RUNS_SCHEMA.empty_table()]
    merged = pa.concat_tables(tables).sort_by(SORT_KEYS)
    return _with_info(merged, {d.repository: d.info() for d in items}, week)


def read_archive(data: bytes) -> tuple[pa.Table, dict[str, Any]]:
    """A stored file → (table, info); refuses files without our footer or with another schema."""
    table, info = read_with_footer(
        data,
        INFO_KEY,
        ArchiveFileError,
        "the Parquet file has no usage_archive.github_actions run list in its footer",
    )
    for name in ADDED_IN_V2:
        if name not in table.column_names and info.get("schema_version", 1) < 2:
            column = WORKFLOW_RUNS_SCHEMA.field(name)
            table = table.append_column(column, pa.nulls(table.num_rows, column.type))
    require_columns(table, WORKFLOW_RUNS_SCHEMA, ArchiveFileError)
    return table, info


def repository_data_from_file(data: bytes) -> RepositoryData:
    """A progress file (one repository) back into RepositoryData."""
    table, info = read_archive(data)
    ((name, entry),) = info["repositories"].items()
    return RepositoryData(
        repository=name,
        team=entry["team"],
        table=table.replace_schema_metadata(None)
        .select(WORKFLOW_RUNS_SCHEMA.names)
        .cast(WORKFLOW_RUNS_SCHEMA),
        runs=[RunRecord(*r) for r in entry["runs"]],
        workflows=[WorkflowRecord(*w) for w in entry["workflows"]],
        visibility=entry.get("visibility"),
    )
