from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usage_archive.archive.parquet_footer import parquet_bytes
from usage_archive.github_actions.archive_file import (
    ADDED_IN_V2,
    INFO_KEY,
    WORKFLOW_RUNS_SCHEMA,
    ArchiveFileError,
    RepositoryData,
    RunRecord,
    WorkflowRecord,
    read_archive,
    repository_data_from_file,
    repository_table,
    rows_table,
    week_table,
)
from usage_archive.github_actions.metrics import summarize
from usage_archive.github_actions.rows import job_row
from usage_archive.github_actions.verify import duplicate_attempt_problems, missing_job_problems
from usage_archive_tests.fakes.github_api import make_job, make_run

UTC = timezone.utc
MONDAY = datetime(2026, 1, 5, tzinfo=UTC)


def _repository(
    name: str, team: str | None, runs: list[tuple[dict, list[dict]]], workflows: list[WorkflowRecord]
) -> RepositoryData:
    rows = [job_row(name, team, run, job) for run, jobs in runs for job in jobs]
    records = [RunRecord(run["id"], run["run_attempt"], run["workflow_id"], len(jobs)) for run, jobs in runs]
    return RepositoryData(name, team, rows_table(rows), records, workflows)


@pytest.fixture
def week() -> pa.Table:
    ci = make_run(1, MONDAY + timedelta(hours=1), run_attempt=2)
    nightly = make_run(
        2, MONDAY + timedelta(hours=2), workflow_id=2, name="Nightly", path=".github/workflows/n.yml"
    )
    failed_to_start = make_run(3, MONDAY + timedelta(hours=3), conclusion="startup_failure")
    api = _repository(
        "octo/api",
        "platform",
        [
            (
                ci,
                [
                    make_job(11, ci, attempt=1, run_seconds=61),
                    make_job(12, ci, attempt=2, run_seconds=120, labels=["windows-latest"]),
                ],
            ),
            (nightly, [make_job(21, nightly, run_seconds=3000)]),
            (failed_to_start, []),
        ],
        [
            WorkflowRecord(1, "CI", ".github/workflows/ci.yml", "active"),
            WorkflowRecord(2, "Nightly", ".github/workflows/n.yml", "active"),
            WorkflowRecord(3, "Release", ".github/workflows/release.yml", "active"),
            WorkflowRecord(4, "Old", ".github/workflows/old.yml", "disabled_manually"),
        ],
    )
    web = _repository("octo/web", None, [], [])
    return week_table([web, api], "2026-01-05")


def test_parquet_round_trip_keeps_types_and_run_list(week: pa.Table) -> None:
    data = parquet_bytes(week)
    table, info = read_archive(data)
    schema = pq.read_schema(pa.BufferReader(data))
    assert schema.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("billable_minutes").type == pa.int64()
    assert schema.field("minute_multiplier").type == pa.int32()
    assert pq.ParquetFile(pa.BufferReader(data)).metadata.row_group(0).column(0).compression == "ZSTD"
    assert table.column("job_id").to_pylist() == [11, 12, 21]
    assert info["week"] == "2026-01-05"
    assert info["repositories"]["octo/api"]["runs"] == [[1, 2, 1, 2], [2, 1, 2, 1], [3, 1, 1, 0]]
    assert info["repositories"]["octo/web"] == {"team": None, "visibility": None, "runs": [], "workflows": []}
    assert table.column("team").to_pylist() == ["platform"] * 3
    assert schema.field("rate_usd_per_minute").type == pa.decimal128(12, 6)
    assert schema.field("estimated_cost_usd").type == pa.decimal128(18, 6)
    assert table.column("estimated_cost_usd").to_pylist() == [
        Decimal("0.012"),
        Decimal("0.020"),
        Decimal("0.300"),
    ]


def test_a_file_of_schema_version_1_reads_with_empty_cost_columns(week: pa.Table) -> None:
    info = json.loads(week.schema.metadata[INFO_KEY])
    info["schema_version"] = 1
    old = week.drop_columns(list(ADDED_IN_V2)).replace_schema_metadata({INFO_KEY: json.dumps(info).encode()})
    table, _ = read_archive(parquet_bytes(old))
    assert table.schema.equals(WORKFLOW_RUNS_SCHEMA)
    assert table.column("runner_class").null_count == table.num_rows == 3
    assert table.column("billable_minutes").to_pylist() == [2, 2, 50]
    # a current file that lost a column is refused, not filled in
    with pytest.raises(ArchiveFileError, match="lacks the columns estimated_cost_usd"):
        read_archive(parquet_bytes(week.drop_columns(["estimated_cost_usd"])))


def test_progress_file_round_trip(week: pa.Table) -> None:
    data = _repository("octo/x", "t", [], [WorkflowRecord(5, "CI", "ci.yml", "active")])
    back = repository_data_from_file(parquet_bytes(repository_table(data, "2026-01-05")))
    assert (back.repository, back.team, back.workflows, back.table.num_rows) == (
        "octo/x",
        "t",
        data.workflows,
        0,
    )


def test_summary(week: pa.Table) -> None:
    table, info = read_archive(parquet_bytes(week))
    summary = summarize(table, info)
    assert (summary.runs, summary.jobs, summary.billable_minutes) == (3, 3, 2 + 2 + 50)
    assert summary.minutes_by_team == {"(no team)": 0, "platform": 54}
    assert summary.minutes_by_repository == {"octo/api": 54, "octo/web": 0}
    assert summary.slowest_workflows[0]["workflow"] == "Nightly"
    assert summary.slowest_workflows[0]["mean_seconds"] == 3000
    # the disabled workflow is not "inactive"; the run that failed to start still counts as CI activity
    assert summary.inactive_workflows == [
        {"repository": "octo/api", "workflow": "Release", "path": ".github/workflows/release.yml"}
    ]


def test_a_skipped_job_with_reversed_timestamps_never_makes_a_duration_negative() -> None:
    run = make_run(5, MONDAY + timedelta(hours=5), name="Deploy", path=".github/workflows/deploy.yml")
    skipped = make_job(51, run, run_seconds=0, conclusion="skipped", labels=["ubuntu-latest"])
    # as seen in the wild: completed_at 1.9 million seconds before started_at
    skipped["completed_at"] = "2025-12-14T06:13:20Z"
    alone = _repository("octo/deploy", None, [(run, [skipped])], [])
    row = alone.table.to_pylist()[0]
    assert (row["run_seconds"], row["queue_seconds"], row["billable_minutes"]) == (0, 5, 0)
    assert row["estimated_cost_usd"] == Decimal(0)
    summary = summarize(*read_archive(parquet_bytes(week_table([alone], "2026-01-05"))))
    assert summary.slowest_workflows == [] and summary.billable_minutes == 0

    # beside a normal job of the same attempt, the reversed one leaves the attempt's span alone
    build = make_job(52, run, run_seconds=90)
    skipped_early = {**skipped, "started_at": "2026-01-05T04:00:00Z"}
    both = _repository("octo/deploy", None, [(run, [build, skipped_early])], [])
    summary = summarize(*read_archive(parquet_bytes(week_table([both], "2026-01-05"))))
    assert [(w["workflow"], w["mean_seconds"], w["max_seconds"]) for w in summary.slowest_workflows] == [
        ("Deploy", 90, 90)
    ]
    assert all(w["mean_seconds"] >= 0 for w in summary.slowest_workflows)


def test_integrity_rules_pass_then_catch_dropped_and_duplicated_jobs(week: pa.Table) -> None:
    table, info = read_archive(parquet_bytes(week))
    assert missing_job_problems(table, info) == []
    assert duplicate_attempt_problems(table) == []

    without_run_2 = table.filter(pa.compute.not_equal(table.column("run_id"), 2))
    assert missing_job_problems(without_run_2, info) == ["octo/api run 2: 0 job rows, GitHub reported 1"]

    doubled = pa.concat_tables([table, table.slice(0, 1)])
    assert duplicate_attempt_problems(doubled) == ["job 11 stored 2 times (run 1 attempt 1, run 1 attempt 1)"]
    assert missing_job_problems(doubled, info) == ["octo/api run 1: 3 job rows, GitHub reported 2"]

    info["repositories"]["octo/api"]["runs"].pop(0)
    assert "2 job rows for a run that was not listed" in missing_job_problems(table, info)[0]


def test_foreign_files_are_refused() -> None:
    with pytest.raises(ArchiveFileError, match="not a readable Parquet"):
        read_archive(b"not parquet")
    with pytest.raises(ArchiveFileError, match=r"no usage_archive\.github_actions run list"):
        read_archive(parquet_bytes(pa.table({"a": [1]})))
