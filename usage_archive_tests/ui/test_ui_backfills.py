"""Every partitioned group launched from the Dagster UI: the GraphQL documents the UI sends, to a real
`dagster dev`, whose daemon runs the backfills; then the archived files and the check results the UI shows.

All launches of one instance go out first and are awaited afterwards, so the daemon's 30-second backfill
ticks overlap instead of adding up.
"""

from __future__ import annotations

import pytest

from usage_archive.archive.layout import (
    CircleCILayout,
    billing_folder,
    billing_manifest_key,
    github_workflow_runs_key,
)
from usage_archive.defs.billing.tables import BILLING_TABLES
from usage_archive.periods import Month, Week
from usage_archive_tests.defs.github_actions.conftest import WEEK as GITHUB_WEEK
from usage_archive_tests.fakes.circleci_api import LAST_WEEK
from usage_archive_tests.ui.conftest import DemoInstance

pytestmark = pytest.mark.ui

BILLING_KEYS = [f"billing/{spec.asset_name}" for spec in BILLING_TABLES] + ["billing/manifest"]
BILLING_TABLE_CHECKS = ("row_count_matches_manifest", "checksum_matches_manifest")
CIRCLECI_KEYS = ["circleci/usage_csv", "circleci/usage_hierarchical_json"]
CIRCLECI_WEEK = LAST_WEEK.key


@pytest.fixture(scope="module")
def single_org(start_demo_instance) -> tuple[DemoInstance, dict[str, str]]:
    """One instance, every launch sent at once: name → backfill id or run id."""
    demo = start_demo_instance()
    ui, months = demo.ui, demo.months
    launches = {
        "billing_range": ui.launch_partition_backfill(BILLING_KEYS, months[1:3]),
        "billing_single_month": ui.launch_partition_backfill(BILLING_KEYS, [months[0]]),
        "circleci_week": ui.launch_partition_backfill(CIRCLECI_KEYS, [CIRCLECI_WEEK]),
        "github_week": ui.launch_partition_backfill(["github_actions/workflow_runs"], [GITHUB_WEEK]),
        # "Materialize" on billing/credits' page, one month: the UI asks which keys must come along, confirms,
        # then sends one run for the whole multi-asset.
        "billing_asset_page": ui.launch_single_run(ui.materialize_keys(["billing/credits"]), months[3]),
    }
    for name, answer in launches.items():
        assert answer["__typename"] in ("LaunchBackfillSuccess", "LaunchRunSuccess"), (name, answer)
    return demo, {
        name: answer.get("backfillId") or answer["run"]["runId"] for name, answer in launches.items()
    }


def assert_billing_month_archived(demo: DemoInstance, month: str) -> None:
    assert (demo.archive / billing_manifest_key(Month.parse(month))).is_file()
    parquet = list((demo.archive / billing_folder(Month.parse(month))).glob("*.parquet"))
    assert len(parquet) == len(BILLING_TABLES)
    for spec in BILLING_TABLES:
        for check in BILLING_TABLE_CHECKS:
            if spec.export.is_snapshot and check == "row_count_matches_manifest":
                continue
            assert demo.ui.check_results(f"billing/{spec.asset_name}", check).get(month) is True, (
                spec,
                check,
            )
    assert demo.ui.check_results("billing/manifest", "lists_every_table").get(month) is True


@pytest.mark.parametrize(
    "launch, months", [("billing_range", slice(1, 3)), ("billing_single_month", slice(0, 1))]
)
def test_billing_backfill_of_every_key_completes(single_org, launch, months) -> None:
    demo, ids = single_org
    backfill = demo.ui.wait_for_backfill(ids[launch])
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    for month in demo.months[months]:
        assert_billing_month_archived(demo, month)


def test_materialize_from_a_billing_asset_page_runs_the_whole_month(single_org) -> None:
    demo, ids = single_org
    run = demo.ui.wait_for_run(ids["billing_asset_page"])
    assert run["status"] == "SUCCESS", run
    assert_billing_month_archived(demo, demo.months[3])


def test_one_billing_asset_alone_is_refused_before_any_run(single_org) -> None:
    """Without the UI's confirm step the server refuses the subset at once: nothing is launched half-way."""
    demo, _ = single_org
    assert set(demo.ui.materialize_keys(["billing/credits"])) == set(BILLING_KEYS)
    answer = demo.ui.launch_single_run(["billing/credits"], demo.months[0])
    assert answer["__typename"] == "InvalidSubsetError"
    assert "does not support subsetting" in answer["message"]


def test_circleci_week_backfill_archives_csv_and_json(single_org) -> None:
    demo, ids = single_org
    backfill = demo.ui.wait_for_backfill(ids["circleci_week"])
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    layout = CircleCILayout(("org-a",))
    assert (demo.archive / layout.csv_key("org-a", LAST_WEEK)).is_file()
    assert (demo.archive / layout.json_key("org-a", LAST_WEEK)).is_file()
    for check in ("job_count_matches_csv", "credit_totals_match_csv"):
        assert demo.ui.check_results("circleci/usage_hierarchical_json", check).get(CIRCLECI_WEEK) is True


def test_github_actions_week_backfill_archives_the_runs(single_org) -> None:
    demo, ids = single_org
    backfill = demo.ui.wait_for_backfill(ids["github_week"])
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert (demo.archive / github_workflow_runs_key(Week.parse(GITHUB_WEEK))).is_file()
    for check in ("every_run_has_its_jobs", "no_duplicate_job_attempts"):
        assert demo.ui.check_results("github_actions/workflow_runs", check).get(GITHUB_WEEK) is True


def test_circleci_org_by_week_backfill_with_several_organisations(start_demo_instance) -> None:
    demo = start_demo_instance(circleci_orgs=("org-a", "org-b"), export_org="org-b")
    partition = f"org-b|{CIRCLECI_WEEK}"  # the dialog's org × week selection, one cell
    answer = demo.ui.launch_partition_backfill(CIRCLECI_KEYS, [partition])
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    backfill = demo.ui.wait_for_backfill(answer["backfillId"])
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    layout = CircleCILayout(("org-a", "org-b"))
    assert (demo.archive / layout.csv_key("org-b", LAST_WEEK)).is_file()
    assert (demo.archive / layout.json_key("org-b", LAST_WEEK)).is_file()
    assert not (demo.archive / layout.folder("org-a")).exists()
    for check in ("job_count_matches_csv", "credit_totals_match_csv"):
        assert demo.ui.check_results("circleci/usage_hierarchical_json", check).get(partition) is True
