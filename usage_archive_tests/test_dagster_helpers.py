"""The one rule for failure and check descriptions, and the one conversion of expected errors."""

from __future__ import annotations

import dagster as dg

from usage_archive.dagster_helpers import DESCRIPTION_LIMIT, as_failure, check_result, describe_problems

KEY = dg.AssetKey(["billing", "credits"])


def test_short_lists_are_joined_whole() -> None:
    assert describe_problems([]) is None
    assert describe_problems(["a is missing", "b differs"]) == "a is missing; b differs"


def test_long_lists_stop_at_a_whole_problem_and_say_how_many_are_left_out() -> None:
    problems = [
        f"2026-{m:02d}: credits-2026-{m:02d}.parquet is missing from the archive" for m in range(1, 13)
    ] * 10
    text = describe_problems(problems)
    assert len(text) <= DESCRIPTION_LIMIT
    shown = text.split(" … and ")[0].split("; ")
    assert all(p in problems for p in shown)
    assert text.endswith(f" … and {len(problems) - len(shown)} more")


def test_one_overlong_problem_is_cut_inside() -> None:
    text = describe_problems(["x" * 5000, "y"], limit=100)
    assert len(text) == 100
    assert text.endswith("… … and 1 more")


def test_expected_errors_become_failures_that_retry_only_when_it_may_help() -> None:
    class NotReady(RuntimeError):
        pass

    failure = as_failure(NotReady("export job 7 is still processing"), retryable=(NotReady,))
    assert failure.description == "NotReady: export job 7 is still processing"
    assert failure.allow_retries is True
    assert as_failure(ValueError("bad period '2026-13'")).allow_retries is False


def test_check_result_passes_without_problems_and_counts_them() -> None:
    passed = check_result(KEY, "row_count_matches_manifest", [])
    assert passed.passed
    assert passed.description is None
    assert passed.metadata["problems"].value == 0
    failed = check_result(
        KEY,
        "row_count_matches_manifest",
        ["p"] * 3000,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"by_period": {}},
    )
    assert not failed.passed
    assert failed.severity == dg.AssetCheckSeverity.WARN
    assert failed.metadata["problems"].value == 3000
    assert len(failed.description) <= DESCRIPTION_LIMIT
