"""The archive's object keys, spelled out: these names are what the archive holds, so they never change."""

from __future__ import annotations

from usage_archive.archive.layout import (
    CircleCILayout,
    billing_file_key,
    billing_manifest_key,
    billing_month_of,
    circleci_export_job_key,
    circleci_imported_key,
    circleci_incoming_key,
    circleci_week_keys,
    circleci_week_of,
    github_progress_folder,
    github_progress_key,
    github_week_of,
    github_workflow_runs_key,
    github_workflow_runs_manifest_key,
    restore_record_key,
    week_restore_record_key,
)
from usage_archive.periods import Month, Week

JANUARY = Month.parse("2026-01")
WEEK = Week.parse("2026-01-05")


def test_billing_keys() -> None:
    assert (
        billing_file_key("credits", JANUARY, ".parquet") == "billing-archive/2026/01/credits-2026-01.parquet"
    )
    assert billing_manifest_key(JANUARY) == "billing-archive/2026/01/manifest.json"
    assert restore_record_key(JANUARY) == ".restores/billing-archive-2026-01.json"


def test_the_month_of_a_billing_key() -> None:
    assert billing_month_of("billing-archive/2026/01/credits-2026-01.parquet") == JANUARY
    assert billing_month_of("billing-archive/2026/13/credits.parquet") is None
    assert billing_month_of("circleci-usage-data/2026/01/x.csv") is None


def test_circleci_keys_are_flat_for_one_organisation() -> None:
    layout = CircleCILayout(("org-a",))
    assert layout.csv_key("org-a", WEEK) == "circleci-usage-data/usage-data-2026-01-05-to-2026-01-12.csv"
    assert layout.json_key("org-a", WEEK) == (
        "circleci-usage-data/usage-data-2026-01-05-to-2026-01-12-hierarchical.json"
    )


def test_circleci_keys_get_a_folder_per_organisation_when_there_are_several() -> None:
    layout = CircleCILayout(("org-a", "org-b"))
    assert (
        layout.csv_key("org-b", WEEK) == "circleci-usage-data/org-b/usage-data-2026-01-05-to-2026-01-12.csv"
    )
    assert layout.accepts("org-b")
    assert not layout.accepts("org-z")


def test_circleci_working_folders() -> None:
    assert circleci_export_job_key("org-a", WEEK) == "circleci-usage-data/.export-jobs/org-a/2026-01-05.json"
    assert circleci_incoming_key("export.csv.gz") == "circleci-usage-data/incoming/export.csv.gz"
    assert circleci_imported_key("x.csv") == "circleci-usage-data/imported/x.csv"


def test_github_actions_keys() -> None:
    assert (
        github_workflow_runs_key(WEEK)
        == "github-actions-usage/workflow-runs-2026-01-05-to-2026-01-12.parquet"
    )
    assert github_progress_folder(WEEK) == "github-actions-usage/.progress/2026-01-05/"
    assert (
        github_progress_key(WEEK, "octo/api")
        == "github-actions-usage/.progress/2026-01-05/done/octo/api.parquet"
    )
    assert github_progress_key(WEEK, "octo/api", partial=True) == (
        "github-actions-usage/.progress/2026-01-05/partial/octo/api.parquet"
    )


def test_each_week_has_a_manifest_beside_its_files() -> None:
    flat, folders = CircleCILayout(("org-a",)), CircleCILayout(("org-a", "org-b"))
    assert (
        flat.manifest_key("org-a", WEEK)
        == "circleci-usage-data/usage-data-2026-01-05-to-2026-01-12-manifest.json"
    )
    assert folders.manifest_key("org-b", WEEK) == (
        "circleci-usage-data/org-b/usage-data-2026-01-05-to-2026-01-12-manifest.json"
    )
    assert github_workflow_runs_manifest_key(WEEK) == (
        "github-actions-usage/workflow-runs-2026-01-05-to-2026-01-12-manifest.json"
    )
    assert week_restore_record_key("github-actions-usage/workflow-runs-2026-01-05-to-2026-01-12") == (
        ".restores/github-actions-usage-workflow-runs-2026-01-05-to-2026-01-12.json"
    )
    assert circleci_week_keys("org-b", WEEK) == {
        "csv": folders.csv_key("org-b", WEEK),
        "json": folders.json_key("org-b", WEEK),
        "manifest": folders.manifest_key("org-b", WEEK),
    }


def test_the_week_of_an_archived_object() -> None:
    flat = CircleCILayout(("org-a",))
    assert circleci_week_of(flat.csv_key("org-a", WEEK)) == (None, WEEK, "csv")
    assert circleci_week_of(CircleCILayout(("a", "b")).json_key("b", WEEK)) == ("b", WEEK, "json")
    assert circleci_week_of(flat.manifest_key("org-a", WEEK)) == (None, WEEK, "manifest")
    for other in (
        circleci_incoming_key("usage-data-2026-01-05-to-2026-01-12.csv"),  # a drop, not an archived week
        "circleci-usage-data/usage-data-2026-01-05-to-2026-01-13.csv",  # not a week
        "circleci-usage-data/usage-data-2026-01-06-to-2026-01-13.csv",  # not a Monday
        circleci_export_job_key("org-a", WEEK),
    ):
        assert circleci_week_of(other) is None, other
    assert github_week_of(github_workflow_runs_key(WEEK)) == (WEEK, "parquet")
    assert github_week_of(github_workflow_runs_manifest_key(WEEK)) == (WEEK, "manifest")
    assert github_week_of(github_progress_key(WEEK, "octo/api")) is None
