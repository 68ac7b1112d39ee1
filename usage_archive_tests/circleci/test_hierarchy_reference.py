"""The bucketed writer's JSON is byte for byte the pure-Python writer's (reference_hierarchy.py), on the sample
and on rows built to hit every corner: duplicates, NULL job ids, a pipeline's rows apart in the file, pipeline
fields that differ between rows, unknown columns, escapes, numbers in other notations, huge credits; with one
bucket and with many."""

from __future__ import annotations

import io
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pytest

from usage_archive.circleci import hierarchy
from usage_archive.circleci.columns import KNOWN_COLUMNS, NULL
from usage_archive.circleci.hierarchy import write_hierarchy
from usage_archive.circleci.merge import merge_parts
from usage_archive.circleci.sample import sample_rows, write_export, write_parts
from usage_archive_tests.circleci import reference_hierarchy
from usage_archive_tests.circleci.test_hierarchy import row


def both(merged: Path, bucket_bytes: int) -> tuple[str, str, object, object]:
    ours, reference = io.StringIO(), io.StringIO()
    result = write_hierarchy(
        merged, ours, source_name="week.csv", period={"start": "a", "end": "b"}, bucket_bytes=bucket_bytes
    )
    expected = reference_hierarchy.write_hierarchy(
        merged, reference, source_name="week.csv", period={"start": "a", "end": "b"}
    )
    return ours.getvalue(), reference.getvalue(), result, expected


@pytest.mark.parametrize("bucket_bytes", [1 << 30, 64 << 10], ids=["one-bucket", "many-buckets"])
@pytest.mark.parametrize("seed", [3, 11])
def test_the_sample_gives_the_reference_bytes(tmp_path: Path, seed: int, bucket_bytes: int) -> None:
    parts = write_parts(tmp_path / "parts", 3000, 3, seed=seed)
    merged = tmp_path / "week.csv"
    merge_parts(list(reversed(parts)), merged)
    ours, reference, result, expected = both(merged, bucket_bytes)
    assert ours == reference
    assert asdict(result) == asdict(expected)  # type: ignore[call-overload]


def corner_rows() -> list[dict[str, str]]:
    rows = []
    for n in range(40):
        pipeline, workflow = f"p{n % 7}", f"w{n % 3}"
        rows.append(
            row(
                f"j{n}",
                pipeline=pipeline,
                workflow=workflow,
                compute=["0.1", "1.005", "12", "\\N"][n % 4],
                total=["0.1", "1.005", "12", "0"][n % 4],
                queued=f"2026-11-17 10:{n % 5:02d}:00.000",
                PIPELINE_CREATED_AT=f"2026-11-1{n % 4} 09:00:00",
            )
        )
    rows[3]["VCS_BRANCH"] = 'fix/say "hi", there'
    rows[4]["JOB_NAME"] = "dir\\sub\ttab\x01"
    rows[5]["WORKFLOW_NAME"] = "zé ✓ \u2028"
    rows[6]["PIPELINE_NUMBER"] = "1E+2"
    rows[7]["JOB_RUN_SECONDS"] = " 61 "
    rows[8]["MEDIAN_CPU_UTILIZATION_PCT"] = "0005.50"
    rows[9]["JOB_RUN_STARTED_AT"] = "2026-11-17 12:00:00 +0530"
    rows[10]["IS_WORKFLOW_SUCCESSFUL"] = "yes"
    rows[11]["PROJECT_NAME"] = "renamed"  # a pipeline's later row disagrees: its first row counts
    rows.append(dict(rows[2]))  # the same job again
    rows.append(row(NULL, pipeline="p1", workflow="w1", JOB_NAME="unnamed", JOB_RUN_NUMBER="3"))
    rows.append(row(NULL, pipeline="p1", workflow="w1", JOB_NAME="unnamed", JOB_RUN_NUMBER="3"))  # again
    rows.append(row(NULL, pipeline="p1", workflow="w1", JOB_NAME="unnamed", JOB_RUN_NUMBER="4"))
    rows.append(row("big", pipeline="p9", compute="12345678901234567890.12345", total="0.5"))  # past int64
    rows.append(row("tiny", pipeline="p8", compute="-0.000001", total="-0.25"))
    rows.append(row("j0", pipeline="p0", workflow="w0"))  # a job of pipeline p0 repeated much later
    return rows


@pytest.mark.parametrize("bucket_bytes", [1 << 30, 2 << 10], ids=["one-bucket", "many-buckets"])
def test_corner_cases_give_the_reference_bytes(tmp_path: Path, bucket_bytes: int) -> None:
    columns = [*KNOWN_COLUMNS, "GPU_CREDITS", "RUNNER_LABEL"]
    rows = corner_rows()
    for n, r in enumerate(rows):
        r["GPU_CREDITS"] = ["0.25", NULL, "1e-3"][n % 3]
        r["RUNNER_LABEL"] = 'say "hi"' if n % 2 else NULL
    part = write_export(
        tmp_path / "corner.csv", [[r[c] for c in columns] for r in rows], columns=columns, compress=False
    )
    merged = tmp_path / "week.csv"
    merge_parts([part], merged)
    ours, reference, result, expected = both(merged, bucket_bytes)
    assert ours == reference
    assert asdict(result) == asdict(expected)  # type: ignore[call-overload]
    assert result.duplicates_dropped == 3


def test_an_empty_week_gives_the_reference_bytes(tmp_path: Path) -> None:
    part = write_export(tmp_path / "empty.csv", [], compress=False)
    merged = tmp_path / "week.csv"
    merge_parts([part], merged)
    ours, reference, _, _ = both(merged, 1 << 30)
    assert ours == reference


def test_a_week_is_grouped_in_buckets_of_bounded_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    merged = tmp_path / "week.csv"
    write_export(merged, sample_rows(2000), compress=False)
    sizes = []
    build = hierarchy._build_bucket

    def spy(path: Path, *args: object) -> object:
        sizes.append(path.stat().st_size)
        return build(path, *args)

    monkeypatch.setattr(hierarchy, "_build_bucket", spy)
    write_hierarchy(merged, io.StringIO(), bucket_bytes=256 << 10)
    assert len(sizes) == -(-merged.stat().st_size * 5 // 2 // (256 << 10))  # the file's size decides how many
    assert max(sizes) < 2 * sum(sizes) / len(sizes)  # pipelines spread evenly over them


def test_credits_are_summed_exactly_past_decimal_precision(tmp_path: Path) -> None:
    rows = [
        row("a", compute="123456789012345678901234567890.123456789", total="1"),
        row("b", compute="0.000000000000000000001", total="1"),
    ]
    part = write_export(tmp_path / "p.csv", [[r[c] for c in KNOWN_COLUMNS] for r in rows], compress=False)
    merged = tmp_path / "week.csv"
    merge_parts([part], merged)
    out = io.StringIO()
    result = write_hierarchy(merged, out)
    assert str(result.credits["compute"]) == "123456789012345678901234567890.123456789000000000001"
    assert '"compute": 123456789012345678901234567890.123456789000000000001' in out.getvalue()


@pytest.mark.parametrize("bucket_bytes", [1 << 30, 2 << 10], ids=["one-bucket", "many-buckets"])
@pytest.mark.parametrize(
    "started", ["2026-11-17 10:00:05.000", "2026-11-17 10:00:05+02:00"], ids=["utc", "offset"]
)
def test_a_first_row_after_a_dropped_repeat_gives_the_reference_bytes(
    tmp_path: Path, bucket_bytes: int, started: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # W2's first row repeats a job of W1 and is dropped: W2's own fields come from its next row. With every value
    # in CircleCI's own forms ("utc"), step 1 rendered them only where the workflow changes, not on that row:
    # they are rendered afterwards. (A timestamp with another offset makes step 1 render them on every row.)
    rows = [
        row("j1", workflow="w1"),
        row("j1", workflow="w2", WORKFLOW_NAME="first"),
        row("j3", workflow="w2", WORKFLOW_NAME="second"),
        row("j4", workflow="w2"),
    ]
    if bucket_bytes > 1 << 20:  # one bucket: a job repeated under another pipeline collapses as before
        rows += [
            row("j9", pipeline="p2"),
            row("j1", pipeline="p3"),
            row("j5", pipeline="p3", PROJECT_NAME="p3"),
        ]
    for r in rows:
        r["JOB_RUN_STARTED_AT"] = started
    part = write_export(tmp_path / "p.csv", [[r[c] for c in KNOWN_COLUMNS] for r in rows], compress=False)
    merged = tmp_path / "week.csv"
    merge_parts([part], merged)
    rendered_later: list[list[int]] = []
    first_rows = hierarchy._Conversion.first_rows

    def spy(self: hierarchy._Conversion, rns: list[int]) -> dict[int, dict[str, str]]:
        rendered_later.append(sorted(rns))
        return first_rows(self, rns)

    monkeypatch.setattr(hierarchy._Conversion, "first_rows", spy)
    ours, reference, result, expected = both(merged, bucket_bytes)
    assert ours == reference
    assert asdict(result) == asdict(expected)  # type: ignore[call-overload]
    assert '"workflow_name": "second"' in ours and '"workflow_name": "first"' not in ours
    if started.endswith("+02:00"):
        assert rendered_later == []
    else:  # row 3 (W2's second row) and row 7 (p3's and its workflow's), in one more read per bucket
        assert rendered_later == ([[3, 7]] if bucket_bytes > 1 << 20 else [[3]])


def test_rows_are_numbered_across_batches_and_flushes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step 1's rows arrive in batches and are written out in several flushes: the numbering (which decides
    which of two repeated jobs is first, and the ties) carries over from one to the next."""
    monkeypatch.setattr(hierarchy, "BATCH_ROWS", 4)
    monkeypatch.setattr(hierarchy, "PENDING_BYTES", 1)  # every batch is written out at once
    parts = write_parts(tmp_path / "parts", 600, 2, seed=7)
    merged = tmp_path / "week.csv"
    merge_parts(parts, merged)
    with open(merged, "a", encoding="utf-8", newline="") as fh:  # early jobs again, with other credits
        for line in merged.read_text(encoding="utf-8").splitlines()[1:4]:
            fh.write(line.replace('"0"', '"7"') + "\n")
    ours, reference, result, expected = both(merged, 16 << 10)
    assert ours == reference
    assert asdict(result) == asdict(expected)  # type: ignore[call-overload]
    assert result.duplicates_dropped == 3


def test_changed_marks_each_value_that_differs_from_the_one_before() -> None:
    values = pa.array(["p1", "p1", "p2", "p2", "p1", "p1"])
    assert hierarchy._changed(values).to_pylist() == [True, False, True, False, True, False]
    assert hierarchy._changed(pa.array([], pa.string())).to_pylist() == []
    assert hierarchy._changed(pa.chunked_array([["a"], ["a", "b"]])).to_pylist() == [True, False, True]
