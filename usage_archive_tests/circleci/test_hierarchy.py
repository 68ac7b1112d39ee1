"""Pure CircleCI logic: merging parts, the hierarchical JSON, and the verification the checks use."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from usage_archive.circleci.columns import KNOWN_COLUMNS, MissingColumnsError, UsageExportFormatError
from usage_archive.circleci.hierarchy import write_hierarchy
from usage_archive.circleci.merge import merge_parts
from usage_archive.circleci.sample import sample_rows, write_export, write_parts
from usage_archive.circleci.verify import compare, csv_problems, summarize_csv, summarize_json


def row(
    job: str,
    *,
    pipeline: str = "p1",
    workflow: str = "w1",
    compute: str = "0.1",
    total: str = "0.1",
    queued: str = "2026-11-17 10:00:00.000",
    **overrides: str,
) -> dict[str, str]:
    values = {c: "\\N" for c in KNOWN_COLUMNS}
    values.update(
        {
            "ORGANIZATION_ID": "org-a",
            "ORGANIZATION_NAME": "Org A",
            "PROJECT_ID": "proj-1",
            "PROJECT_NAME": "api",
            "PIPELINE_ID": pipeline,
            "PIPELINE_NUMBER": "42",
            "PIPELINE_CREATED_AT": "2026-11-17 09:59:00.000",
            "PIPELINE_TRIGGER_SOURCE": "webhook",
            "IS_UNREGISTERED_USER": "false",
            "WORKFLOW_ID": workflow,
            "WORKFLOW_NAME": "build-test",
            "WORKFLOW_FIRST_JOB_QUEUED_AT": queued,
            "IS_WORKFLOW_SUCCESSFUL": "true",
            "JOB_NAME": f"job-{job}",
            "JOB_RUN_NUMBER": "7",
            "JOB_ID": job,
            "JOB_RUN_DATE": "2026-11-17",
            "JOB_RUN_QUEUED_AT": queued,
            "JOB_RUN_STARTED_AT": "2026-11-17 10:00:05+02:00",
            "JOB_BUILD_STATUS": "success",
            "RESOURCE_CLASS": "medium",
            "EXECUTOR": "docker",
            "JOB_RUN_SECONDS": "61",
            "MEDIAN_CPU_UTILIZATION_PCT": "12.5",
            "COMPUTE_CREDITS": compute,
            "TOTAL_CREDITS": total,
        }
    )
    values.update(overrides)
    return values


def write_part(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or list(KNOWN_COLUMNS)
    return write_export(path, [[r.get(c, "\\N") for c in columns] for r in rows], columns=columns)


def build(tmp_path: Path, parts: list[Path]) -> tuple[dict, Path]:
    merged = tmp_path / "merged.csv"
    merge_parts(parts, merged)
    out = tmp_path / "out.json"
    with open(out, "w") as fh:
        write_hierarchy(merged, fh, source_name="merged.csv")
    return json.loads(out.read_text(), parse_float=Decimal), merged


def test_parts_merge_by_column_name_keeping_unknown_columns(tmp_path: Path) -> None:
    first = write_part(tmp_path / "a.csv.gz", [row("j1")])
    # The second part has its columns in another order, lacks an optional column and brings a new one.
    reordered = [c for c in reversed(KNOWN_COLUMNS) if c != "VCS_URL"] + ["GPU_CREDITS"]
    second = write_part(tmp_path / "b.csv.gz", [row("j2", GPU_CREDITS="2.5", VCS_BRANCH="main")], reordered)
    result = merge_parts([first, second], tmp_path / "m.csv")
    with open(tmp_path / "m.csv", newline="") as fh:
        records = list(csv.DictReader(fh))
    assert result.columns == [*KNOWN_COLUMNS, "GPU_CREDITS"]
    assert result.unknown_columns == ["GPU_CREDITS"]
    assert [r["JOB_ID"] for r in records] == ["j1", "j2"]
    assert records[1]["VCS_BRANCH"] == "main"
    assert records[1]["VCS_URL"] == "\\N"
    assert records[1]["GPU_CREDITS"] == "2.5"
    assert records[0]["GPU_CREDITS"] == "\\N"
    assert (tmp_path / "m.csv").read_text().count("ORGANIZATION_ID") == 1  # a single header


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    columns = [c for c in KNOWN_COLUMNS if c != "WORKFLOW_ID"]
    good = write_part(tmp_path / "a.csv.gz", [row("j1")])
    bad = write_part(tmp_path / "b.csv.gz", [row("j2")], columns)
    with pytest.raises(MissingColumnsError, match=r"part 2 of 2 is missing required column\(s\) WORKFLOW_ID"):
        merge_parts([good, bad], tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()  # nothing half-written: headers are checked first


def test_hierarchy_nests_rolls_up_exactly_and_collapses_duplicates(tmp_path: Path) -> None:
    a = write_part(
        tmp_path / "a.csv.gz",
        [
            row("j2", compute="0.2", total="0.2", queued="2026-11-17 10:05:00.000"),
            row("j1", compute="0.1", total="0.1"),
            row("j3", workflow="w2", compute="\\N", total="0.3", queued="2026-11-17 11:00:00.000"),
        ],
    )
    b = write_part(
        tmp_path / "b.csv.gz",
        [
            row("j2", compute="0.2", total="0.2", queued="2026-11-17 10:05:00.000"),  # the same job again
            row(
                "j9",
                pipeline="p0",
                compute="1.005",
                total="1.005",
                PIPELINE_CREATED_AT="2026-11-16 08:00:00.000",
            ),
        ],
    )
    doc, _ = build(tmp_path, [a, b])
    assert [p["pipeline_id"] for p in doc["pipelines"]] == ["p0", "p1"]  # by creation time
    p1 = doc["pipelines"][1]
    assert [w["workflow_id"] for w in p1["workflows"]] == ["w1", "w2"]
    assert [j["job_id"] for j in p1["workflows"][0]["jobs"]] == ["j1", "j2"]  # by queue time, duplicate gone
    assert p1["workflows"][0]["credits"]["compute"] == Decimal("0.3")
    assert p1["credits"]["total"] == Decimal("0.6")
    assert p1["credits"]["compute"] == Decimal("0.3")
    assert doc["totals"]["jobs"] == 4
    assert doc["totals"]["credits"]["total"] == Decimal("1.605")
    job3 = p1["workflows"][1]["jobs"][0]
    assert job3["credits"]["compute"] is None  # NULL stays NULL
    job1 = p1["workflows"][0]["jobs"][0]
    assert job1["queued_at"] == "2026-11-17T10:00:00.000Z"
    assert job1["started_at"] == "2026-11-17T08:00:05Z"  # RFC 3339 in UTC, whatever offset the export wrote
    assert job1["stopped_at"] is None
    assert job1["duration_seconds"] == 61
    assert job1["cpu_utilization_pct"]["median"] == Decimal("12.5")
    assert p1["trigger"] == {"source": "webhook", "user_id": None, "is_unregistered_user": False}
    assert p1["workflows"][0]["is_successful"] is True
    text = (tmp_path / "out.json").read_text()
    assert "0.30000000000000004" not in text
    assert '"compute": 0.3' in text


def test_output_is_the_same_whatever_the_part_order(tmp_path: Path) -> None:
    parts = write_parts(tmp_path / "parts", 400, 4, seed=3)
    first, _ = build(tmp_path, parts)
    second, _ = build(tmp_path, list(reversed(parts)))
    first.pop("source_csv"), second.pop("source_csv")
    assert first == second


def test_unknown_columns_are_kept_in_the_json(tmp_path: Path) -> None:
    columns = [*KNOWN_COLUMNS, "GPU_CREDITS", "RUNNER_LABEL"]
    part = write_part(
        tmp_path / "a.csv.gz", [row("j1", GPU_CREDITS="0.25", RUNNER_LABEL='say "hi"')], columns
    )
    doc, _ = build(tmp_path, [part])
    job = doc["pipelines"][0]["workflows"][0]["jobs"][0]
    assert job["credits"]["gpu"] == Decimal("0.25")
    assert job["extra"] == {"RUNNER_LABEL": 'say "hi"'}
    assert doc["totals"]["credits"]["gpu"] == Decimal("0.25")


def test_a_credit_that_is_not_a_number_is_a_clear_error(tmp_path: Path) -> None:
    part = write_part(tmp_path / "a.csv.gz", [row("j1"), row("j2", COMPUTE_CREDITS="1,5")])
    with pytest.raises(UsageExportFormatError, match=r"line 3: COMPUTE_CREDITS is not a number: '1,5'"):
        build(tmp_path, [part])


def test_verification_sees_a_dropped_job_and_a_changed_credit(tmp_path: Path) -> None:
    parts = write_parts(tmp_path / "parts", 200, 2, seed=5)
    doc, merged = build(tmp_path, parts)
    good = summarize_csv(merged)
    assert compare(good, summarize_json(tmp_path / "out.json")) == ([], [])
    assert csv_problems(merged, "merged.csv") == []
    # A job disappears: the count check must fail; a credit changes by 0.001: the credit check must fail.
    doc["pipelines"][0]["workflows"][0]["jobs"].pop()
    doc["pipelines"][1]["workflows"][0]["jobs"][0]["credits"]["compute"] += Decimal("0.001")
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc, default=str))
    jobs, credits = compare(good, summarize_json(broken))
    assert any("distinct jobs" in p for p in jobs)
    assert any(p.startswith("compute:") for p in credits)
    assert any("roll-up" in p for p in credits)


def test_csv_problems_names_a_short_row_and_a_bad_credit(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(KNOWN_COLUMNS)
    writer.writerow([row("j1")[c] for c in KNOWN_COLUMNS])
    writer.writerow(["x"] * 3)
    writer.writerow([row("j2", TOTAL_CREDITS="lots")[c] for c in KNOWN_COLUMNS])
    path.write_text(buffer.getvalue())
    problems = csv_problems(path, "bad.csv")
    assert problems == [
        "line 3 has 3 fields, the header has 48",
        "line 4: TOTAL_CREDITS is not a number: 'lots'",
    ]


def test_sample_export_is_deterministic() -> None:
    assert list(sample_rows(50)) == list(sample_rows(50))
    assert all(len(r) == 48 for r in sample_rows(50))


def test_not_gzip_and_empty_parts(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    write_export(plain, [[row("j1")[c] for c in KNOWN_COLUMNS]], compress=False)
    empty = tmp_path / "empty.csv.gz"
    empty.write_bytes(gzip.compress(b""))
    result = merge_parts([plain, empty], tmp_path / "m.csv")
    assert result.rows == 1
    with pytest.raises(UsageExportFormatError, match="the export is empty"):
        merge_parts([empty], tmp_path / "m2.csv")


def test_a_bad_value_on_a_later_row_of_a_workflow_is_refused_by_the_json_step(tmp_path: Path) -> None:
    # Every other value is in CircleCI's own forms, so step 1 renders a workflow's fields only where the
    # workflow changes; a row with a value in another form has them rendered, which checks them.
    plain = {"JOB_RUN_STARTED_AT": "2026-11-17 10:00:05.000"}
    rows = [row("j1", **plain), row("j2", **plain, WORKFLOW_STOPPED_AT="yesterday"), row("j3", **plain)]
    merged = write_export(
        tmp_path / "week.csv", [[r[c] for c in KNOWN_COLUMNS] for r in rows], compress=False
    )
    with pytest.raises(
        UsageExportFormatError, match=r"line 3: WORKFLOW_STOPPED_AT is not a date or a timestamp"
    ):
        write_hierarchy(merged, io.StringIO(), source_name="week.csv")


@pytest.mark.parametrize("damage", ["cut short", "corrupt block"])
def test_a_damaged_gzip_part_is_refused_by_name(tmp_path: Path, damage: str) -> None:
    good = write_parts(tmp_path / "parts", 400, 2, seed=2)
    data = good[1].read_bytes()
    half = len(data) // 2  # past the header: the first half is merged before the damage shows
    broken = data[:half] if damage == "cut short" else data[:half] + bytes(64) + data[half + 64 :]
    good[1].write_bytes(broken)
    with pytest.raises(UsageExportFormatError, match=r"^part-b is not readable gzip: "):
        merge_parts(good, tmp_path / "merged.csv", names=["part-a", "part-b"])
    assert not (tmp_path / "merged.csv").exists()


def test_a_record_longer_than_the_limit_is_refused_at_the_merge_in_a_short_message(tmp_path: Path) -> None:
    rows = [row("j1"), row("j2", JOB_NAME="x" * (1 << 20)), row("j3")]
    part = write_export(tmp_path / "p.csv", [[r[c] for c in KNOWN_COLUMNS] for r in rows], compress=False)
    with pytest.raises(
        UsageExportFormatError, match=r"Line: 3 .* Maximum line size of 1048576 bytes"
    ) as caught:
        merge_parts([part], tmp_path / "merged.csv", names=["p.csv"])
    assert len(str(caught.value)) < 800
    assert not (tmp_path / "merged.csv").exists()
