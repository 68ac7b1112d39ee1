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
def test_a_first_row_after_a_dropped_repeat_gives_the_reference_bytes(
    tmp_path: Path, bucket_bytes: int
) -> None:
    # W2's first row repeats a job of W1 and is dropped: W2's own fields come from its next row, which follows a
    # row of the same workflow (so step 1 did not render them) and are rendered afterwards.
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
    part = write_export(tmp_path / "p.csv", [[r[c] for c in KNOWN_COLUMNS] for r in rows], compress=False)
    merged = tmp_path / "week.csv"
    merge_parts([part], merged)
    ours, reference, result, expected = both(merged, bucket_bytes)
    assert ours == reference
    assert asdict(result) == asdict(expected)  # type: ignore[call-overload]
    assert '"workflow_name": "second"' in ours and '"workflow_name": "first"' not in ours


def test_rows_are_numbered_and_heads_kept_across_batches() -> None:
    """Step 1's rows arrive in batches: numbering and 'the pipeline (workflow) changes here' carry over from
    one batch to the next, as a window over the whole file would."""

    def batch(pids: list[str], wids: list[str]) -> pa.RecordBatch:
        heads = [f"{p}/{w}" for p, w in zip(pids, wids, strict=True)]
        return pa.RecordBatch.from_pydict({"pid": pids, "wid": wids, "phead": heads, "whead": heads})

    order = hierarchy._FileOrder()
    first = order.mark(batch(["p1", "p1", "p2"], ["w1", "w2", "w3"]))
    second = order.mark(batch(["p2", "p2", "p3"], ["w3", "w4", "w4"]))
    assert first.column("rn").to_pylist() + second.column("rn").to_pylist() == [1, 2, 3, 4, 5, 6]
    assert first.column("phead").to_pylist() == ["p1/w1", None, "p2/w3"]
    assert second.column("phead").to_pylist() == [None, None, "p3/w4"]
    assert second.column("whead").to_pylist() == [None, "p2/w4", "p3/w4"]
