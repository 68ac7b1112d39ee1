"""The usage export's real dialect, end to end: how CircleCI writes the file, what the merge accepts or refuses
(by file and line, before anything is stored), and what reaches the JSON."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from usage_archive.circleci import dialect, export_sql
from usage_archive.circleci.columns import KNOWN_COLUMNS, NULL, UsageExportFormatError, value_kind
from usage_archive.circleci.hierarchy import write_hierarchy
from usage_archive.circleci.merge import merge_parts
from usage_archive.circleci.sample import sample_rows, write_export
from usage_archive_tests.circleci.test_hierarchy import row

BRANCH = 'fix/say "hi", there'
JOB_NAME = "msbuild dir\\sub"


def circleci_line(values: list[str], end: str = "\n") -> str:
    """One record as CircleCI writes it: every field quoted, a quote doubled, a backslash as it is."""
    return ",".join('"' + v.replace('"', '""') + '"' for v in values) + end


def export_text(rows: list[dict[str, str]], end: str = "\n", bom: bool = False) -> str:
    return (
        ("\ufeff" if bom else "")
        + circleci_line(list(KNOWN_COLUMNS), end)
        + "".join(circleci_line([r[c] for c in KNOWN_COLUMNS], end) for r in rows)
    )


def to_json(tmp_path: Path, parts: list[Path]) -> tuple[dict, Path]:
    merged = tmp_path / "merged.csv"
    merge_parts(parts, merged)
    out = io.StringIO()
    write_hierarchy(merged, out, source_name="merged.csv")
    return json.loads(out.getvalue(), parse_float=Decimal), merged


def the_rows() -> list[dict[str, str]]:
    return [
        row(
            "j1",
            VCS_BRANCH=BRANCH,
            JOB_NAME=JOB_NAME,
            IS_UNREGISTERED_USER="True",
            IS_WORKFLOW_SUCCESSFUL="False",
            ORGANIZATION_CREATED_DATE="2019-04-01",
            PROJECT_CREATED_DATE="2020-01-15",
            JOB_RUN_QUEUED_AT="2025-08-10 07:27:16.535",
            JOB_RUN_STARTED_AT="2025-08-10 07:27:20.100 +0000",
            JOB_RUN_STOPPED_AT="2025-08-10 09:28:00.000 +0200",
            RESOURCE_CLASS=NULL,
        ),
        row("j2", JOB_NAME=NULL, JOB_RUN_NUMBER=NULL, EXECUTOR="runner", JOB_BUILD_STATUS="queued"),
    ]


@pytest.mark.parametrize("end", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_values_reach_the_json_exactly_from_a_fully_quoted_export(tmp_path: Path, end: str) -> None:
    part = tmp_path / "part.csv"
    part.write_bytes(export_text(the_rows(), end).encode())
    doc, merged = to_json(tmp_path, [part])
    pipeline = doc["pipelines"][0]
    assert pipeline["vcs"]["branch"] == BRANCH  # a doubled quote and a comma inside the field
    assert pipeline["organization"]["created_date"] == "2019-04-01"  # dates stay dates
    assert pipeline["trigger"]["is_unregistered_user"] is True
    workflow = pipeline["workflows"][0]
    assert workflow["is_successful"] is False
    first, second = workflow["jobs"]
    assert first["job_name"] == JOB_NAME  # the backslash is a backslash
    assert first["resource_class"] is None  # a quoted "\N" is NULL
    assert first["queued_at"] == "2025-08-10T07:27:16.535Z"  # RFC 3339, UTC, the fraction as written
    assert first["started_at"] == "2025-08-10T07:27:20.100Z"
    assert first["stopped_at"] == "2025-08-10T07:28:00.000Z"  # +0200 converted to UTC
    assert second["job_name"] is None and second["job_run_number"] is None
    assert second["executor"] == "runner" and second["status"] == "queued"
    assert merged.read_bytes() == part.read_bytes()  # the archive keeps the export's own bytes


def test_a_byte_order_mark_before_a_quoted_header_is_read(tmp_path: Path) -> None:
    part = tmp_path / "resaved.csv"
    part.write_bytes(export_text(the_rows(), bom=True).encode())
    doc, merged = to_json(tmp_path, [part])
    assert doc["totals"]["jobs"] == 2
    assert merged.read_bytes() == part.read_bytes()[len(dialect.BOM.encode()) :]  # the mark is not archived


def test_parts_are_merged_as_written(tmp_path: Path) -> None:
    rows = list(sample_rows(60))
    first = write_export(tmp_path / "a.csv.gz", rows[:25])
    second = write_export(tmp_path / "b.csv.gz", rows[25:])
    merged = tmp_path / "merged.csv"
    result = merge_parts([first, second], merged)
    assert result.rows == 60
    assert (
        merged.read_bytes()
        == gzip.decompress(first.read_bytes()) + gzip.decompress(second.read_bytes()).split(b"\n", 1)[1]
    )


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (
            lambda text: text.replace('"queued"', '"que"ued"'),
            r"line 3: a quoted field is followed by something other than a comma",
        ),
        (lambda text: text[:-2] + "\n", r"line 3: a quoted field is never closed"),
        (lambda text: text[:-1] + ',"extra"\n', r"line 3 has 49 fields, the header has 48"),
    ],
    ids=["stray-quote", "unclosed", "field-count"],
)
def test_a_row_that_cannot_be_read_unambiguously_is_refused_by_file_and_line(
    tmp_path: Path, damage, expected: str
) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(export_text(the_rows()))
    bad.write_text(damage(export_text(the_rows())))
    with pytest.raises(UsageExportFormatError, match=expected) as caught:
        merge_parts([good, bad], tmp_path / "merged.csv", names=["good.csv", "bad.csv"])
    assert str(caught.value).startswith("bad.csv line 3")
    assert not (tmp_path / "merged.csv").exists()  # nothing left to store


def test_backslash_escaped_quotes_are_refused_not_misread(tmp_path: Path) -> None:
    # What CircleCI's own reporter assumes (escapechar="\\"): refused, with the line and why.
    text = export_text(the_rows()).replace('say ""hi""', 'say \\"hi\\"')
    part = tmp_path / "escaped.csv"
    part.write_text(text)
    with pytest.raises(
        UsageExportFormatError, match=r"escaped.csv line 2: .*escaped with a backslash"
    ) as caught:
        merge_parts([part], tmp_path / "merged.csv", names=["escaped.csv"])
    assert "cannot be read unambiguously" in str(caught.value)
    assert not (tmp_path / "merged.csv").exists()


def test_a_value_the_json_cannot_hold_is_refused_at_the_merge(tmp_path: Path) -> None:
    rows = the_rows()
    rows[1]["JOB_RUN_STARTED_AT"] = "10/08/2025 07:27"
    part = tmp_path / "p.csv"
    part.write_text(export_text(rows))
    with pytest.raises(
        UsageExportFormatError,
        match=r"p.csv line 3: JOB_RUN_STARTED_AT is not a date or a "
        r"timestamp .*: '10/08/2025 07:27'",
    ):
        merge_parts([part], tmp_path / "merged.csv", names=["p.csv"])


def test_lines_are_counted_as_in_the_file_when_a_value_spans_lines(tmp_path: Path) -> None:
    rows = the_rows()
    rows[0]["WORKFLOW_NAME"] = "build\nand test"  # a quoted newline: record 1 takes lines 2 and 3
    rows[1]["PARALLELISM"] = "two"
    part = tmp_path / "p.csv"
    part.write_text(export_text(rows))
    with pytest.raises(UsageExportFormatError, match=r"p.csv line 4: PARALLELISM is not a number: 'two'"):
        merge_parts([part], tmp_path / "merged.csv", names=["p.csv"])


def test_merge_refuses_to_write_over_one_of_its_parts(tmp_path: Path) -> None:
    part = write_export(tmp_path / "part.csv", sample_rows(20), compress=False)
    before = part.read_bytes()
    with pytest.raises(UsageExportFormatError, match=r"part.csv is part 1 of 1 itself"):
        merge_parts([part], part)
    assert part.read_bytes() == before


def test_the_sample_is_written_in_circleci_dialect_with_the_values_seen_in_the_wild(tmp_path: Path) -> None:
    rows = list(sample_rows(2000))
    path = write_export(tmp_path / "sample.csv", rows, compress=False)
    lines = path.read_text().splitlines()
    assert all(line.startswith('"') and line.endswith('"') for line in lines)  # every field quoted
    records = list(csv.DictReader(io.StringIO(path.read_text())))
    values = {c: {r[c] for r in records} for c in KNOWN_COLUMNS}
    for column in (
        "JOB_NAME",
        "JOB_RUN_NUMBER",
        "RESOURCE_CLASS",
        "EXECUTOR",
        "DLC_CREDITS",
        "LAST_BUILD_FINISHED_AT",
        "JOB_RUN_STOPPED_AT",
    ):
        assert NULL in values[column], column
    assert {"docker", "machine", "macos", "windows", "runner"} <= values["EXECUTOR"]
    assert {"success", "failed", "canceled", "queued", "running"} <= values["JOB_BUILD_STATUS"]
    assert values["IS_UNREGISTERED_USER"] == {"True", "False"}
    assert values["ORGANIZATION_CREATED_DATE"] == {"2019-04-01"}  # a date, not a timestamp
    assert BRANCH in values["VCS_BRANCH"] and '"fix/say ""hi"", there"' in path.read_text()
    assert JOB_NAME in values["JOB_NAME"]


# Every form the SQL renders itself, and forms it leaves to Python, rendered both ways.
EDGE_VALUES = {
    "timestamp": [
        "2025-08-10 07:27:16.535",
        "2025-08-10T07:27:16Z",
        "2025-08-10 07:27:16.535 +0000",
        "2025-08-10 07:27:16+00:00",
        "2025-08-10 07:27:16.5 +0200",
        "2025-08-10 00:27:16 -0130",
        "2025-01-01 00:30:00+01",
        "2025-08-10",
        "0999-12-31",
        "2025-02-29",
        "2025-02-29 10:00:00",
        "2025-13-01 00:00:00",
        "2025-08-10 24:00:00",
        "2025-08-10 07:27",
        " 2025-08-10",
        "2025-08-10 UTC",
        "2025-08-10 07:27:16 UTC",
        "2025-08-10 07:27:16 +2400",
        NULL,
        "",
    ],
    "number": [
        "0",
        "-0",
        "12.345",
        "0.000",
        "1E+2",
        "1.50e1",
        "+3",
        ".5",
        "5.",
        "0005",
        "1_000",
        " 7 ",
        "1,5",
        "NaN",
        "Infinity",
        "-12.50",
        "٣",
        NULL,
        "",
    ],
    "boolean": ["True", "False", "true", "FALSE", "t", "0", "yes", " True ", "maybe", NULL, ""],
    "text": [
        "plain",
        BRANCH,
        JOB_NAME,
        "tab\there",
        "bell\x07",
        "del\x7f",
        "nbsp\u00a0",
        "é",
        NULL,
        "",
        "\\N\\N",
    ],
}


def test_sql_and_python_render_every_value_alike(tmp_path: Path) -> None:
    cases = [(kind, value) for kind, values in EDGE_VALUES.items() for value in values]
    with export_sql.connect() as con:
        for kind, value in cases:
            python = {
                "timestamp": dialect.timestamp_json,
                "number": dialect.number_json,
                "boolean": dialect.boolean_json,
                "text": dialect.string_json,
            }[kind](value)
            try:
                sql = con.execute(f"SELECT {export_sql.RENDER[kind]}(?)", [value]).fetchone()[0]
            except duckdb.Error:  # an invalid value stops the query
                sql = None
            assert sql == python, (kind, value)
    assert dialect.timestamp_json("2025-08-10 00:27:16 -0130") == '"2025-08-10T01:57:16Z"'
    assert dialect.timestamp_json("2025-13-01 00:00:00") is None
    assert value_kind("PROJECT_CREATED_DATE") == "timestamp" and value_kind("GPU_CREDITS") == "credit"


# Dates the merge's one-expression check accepts without rendering, or must leave to the full check.
CALENDAR_EDGES = [
    "2025-04-30 10:00:00.000",
    "2025-04-31 10:00:00.000",
    "2025-12-31 23:59:59.999",
    "2025-01-31",
    "2025-06-31",
    "2025-02-28 00:00:00.000",
    "2025-02-29 00:00:00.000",
    "2024-02-29 00:00:00.000",
    "2025-02-30",
    "2025-00-10 00:00:00.000",
    "2025-08-00 00:00:00.000",
    "2025-08-10 23:59:60.000",
    "2025-08-10 07:27:16.5350",
]


def test_the_merge_accepts_exactly_the_values_the_json_step_renders(tmp_path: Path) -> None:
    """The merge checks the forms CircleCI writes with one regular expression per record and renders only the
    rest: whatever the form, it accepts a value exactly when the rule that renders it does."""
    column_of = {
        "timestamp": "JOB_RUN_STARTED_AT",
        "number": "PARALLELISM",
        "boolean": "IS_WORKFLOW_SUCCESSFUL",
    }
    rule_of = {
        "timestamp": dialect.timestamp_json,
        "number": dialect.number_json,
        "boolean": dialect.boolean_json,
    }
    cases = [(kind, v) for kind in column_of for v in EDGE_VALUES[kind]]
    cases += [("timestamp", v) for v in CALENDAR_EDGES]
    for index, (kind, value) in enumerate(cases):
        rows = the_rows()
        rows[1][column_of[kind]] = value
        part = tmp_path / f"case-{index}.csv"
        part.write_text(export_text(rows))
        accepted = True
        try:
            merge_parts([part], tmp_path / f"merged-{index}.csv", names=[part.name])
        except UsageExportFormatError as exc:
            accepted = False
            assert f"{part.name} line 3: {column_of[kind]} is not" in str(exc), (kind, value, exc)
        assert accepted == (rule_of[kind](value) is not None), (kind, value)
