"""The archive's layout: every prefix and every object key, in one place (no Dagster import).

Keys are relative to the archive root (ARCHIVE_URL's bucket and prefix, or its directory):

    billing-archive/<YYYY>/<MM>/<table>-<YYYY-MM>.parquet[.gz]    a month of a billing table
    billing-archive/<YYYY>/<MM>/manifest.json                    the month's manifest, written last
    circleci-usage-data/[<org>/]usage-data-<week>.csv             a week of CircleCI usage (an org folder only
    circleci-usage-data/[<org>/]usage-data-<week>-hierarchical.json   when several organisations are archived)
    circleci-usage-data/[<org>/]usage-data-<week>-manifest.json   the week's manifest, written after its files
    github-actions-usage/workflow-runs-<week>.parquet             a week of GitHub Actions runs and jobs
    github-actions-usage/billing-usage-<week>.parquet             a week of GitHub's billing usage ledger
    ci-costs/ci-costs-<week>.parquet                              a week's CI cost by provider, team and project
    github-actions-usage/workflow-runs-<week>-manifest.json       the week's manifest, written after its file

where <week> is `<Monday>-to-<next Monday>`. Working folders, deleted from once they have served:

    circleci-usage-data/.export-jobs/<org>/<Monday>.json          a CircleCI export job a retry resumes
    circleci-usage-data/incoming/                                 exports dropped in to be imported
    circleci-usage-data/imported/                                 where imported exports are moved
    github-actions-usage/.progress/<Monday>/{done,partial}/…      per-repository progress a retry resumes
    .restores/billing-archive-<YYYY>-<MM>.json                    a month's restore request and its state
    .restores/<a week's stem, '/' as '-'>.json                    a week's restore request and its state

Bucket lifecycle rules, IAM policies, verify, restore and the three sources all build their keys here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from usage_archive.periods import Month, Week

BILLING_PREFIX = "billing-archive"
CIRCLECI_PREFIX = "circleci-usage-data"
GITHUB_ACTIONS_PREFIX = "github-actions-usage"
CI_COSTS_PREFIX = "ci-costs"
# Every folder the archiver writes and readers read (IAM policies): the three sources and the cost tables
# derived from them. The cost tables have no lifecycle rule: small, read by queries for years.
SOURCE_PREFIXES = (BILLING_PREFIX, CIRCLECI_PREFIX, GITHUB_ACTIONS_PREFIX, CI_COSTS_PREFIX)

CIRCLECI_EXPORT_JOBS_PREFIX = f"{CIRCLECI_PREFIX}/.export-jobs"
CIRCLECI_INCOMING_PREFIX = f"{CIRCLECI_PREFIX}/incoming"
CIRCLECI_IMPORTED_PREFIX = f"{CIRCLECI_PREFIX}/imported"
GITHUB_PROGRESS_PREFIX = f"{GITHUB_ACTIONS_PREFIX}/.progress"
RESTORE_RECORDS_PREFIX = ".restores"
# What the archiver deletes once it has served (the IAM policy allows deletes there and nowhere else).
WORKING_STATE_PREFIXES = (CIRCLECI_EXPORT_JOBS_PREFIX, CIRCLECI_INCOMING_PREFIX, GITHUB_PROGRESS_PREFIX)

MANIFEST_NAME = "manifest.json"
WEEK_MANIFEST_SUFFIX = "-manifest.json"  # a week's manifest sits beside its files: `<stem>-manifest.json`
REJECTED_SUFFIX = ".rejected.txt"
_BILLING_MONTH_FOLDER = re.compile(rf"^{re.escape(BILLING_PREFIX)}/(\d{{4}})/(\d{{2}})/")


# -- billing ------------------------------------------------------------------------------------------------------
def billing_folder(month: Month) -> str:
    return f"{BILLING_PREFIX}/{month:%Y}/{month:%m}"


def billing_file_key(file_stem: str, month: Month, suffix: str) -> str:
    """`billing-archive/2026/01/credits-2026-01.parquet` (suffix `.parquet` or `.parquet.gz`)."""
    return f"{billing_folder(month)}/{file_stem}-{month:%Y-%m}{suffix}"


def billing_manifest_key(month: Month) -> str:
    return f"{billing_folder(month)}/{MANIFEST_NAME}"


def billing_month_of(key: str) -> Month | None:
    """The month whose folder holds `key`, or None for a key outside the billing months."""
    match = _BILLING_MONTH_FOLDER.match(key)
    if not match:
        return None
    try:
        return Month.parse(f"{match.group(1)}-{match.group(2)}")
    except ValueError:
        return None


def restore_record_key(month: Month) -> str:
    return f"{RESTORE_RECORDS_PREFIX}/{billing_folder(month).replace('/', '-')}.json"


def week_restore_record_key(stem: str) -> str:
    """The restore record of the week whose objects start with `stem` (its manifest key minus the suffix)."""
    return f"{RESTORE_RECORDS_PREFIX}/{stem.replace('/', '-')}.json"


# -- CircleCI -----------------------------------------------------------------------------------------------------
CIRCLECI_CSV_SUFFIX = ".csv"
CIRCLECI_JSON_SUFFIX = "-hierarchical.json"


def circleci_stem(org_folder: str | None, week: Week) -> str:
    """`circleci-usage-data/[<org_folder>/]usage-data-<week>`: every object of the week starts with it."""
    folder = f"{CIRCLECI_PREFIX}/{org_folder}" if org_folder else CIRCLECI_PREFIX
    return f"{folder}/usage-data-{week.label}"


@dataclass(frozen=True)
class CircleCILayout:
    """Where a week lands. One (or no) configured organisation: flat; several: a folder per organisation."""

    org_ids: tuple[str, ...] = ()

    @property
    def per_org_folders(self) -> bool:
        return len(self.org_ids) > 1

    def folder(self, org_id: str) -> str:
        return f"{CIRCLECI_PREFIX}/{org_id}" if self.per_org_folders else CIRCLECI_PREFIX

    def stem(self, org_id: str, week: Week) -> str:
        return circleci_stem(org_id if self.per_org_folders else None, week)

    def csv_key(self, org_id: str, week: Week) -> str:
        return f"{self.stem(org_id, week)}{CIRCLECI_CSV_SUFFIX}"

    def json_key(self, org_id: str, week: Week) -> str:
        return f"{self.stem(org_id, week)}{CIRCLECI_JSON_SUFFIX}"

    def manifest_key(self, org_id: str, week: Week) -> str:
        return f"{self.stem(org_id, week)}{WEEK_MANIFEST_SUFFIX}"

    def accepts(self, org_id: str) -> bool:
        return not self.org_ids or org_id in self.org_ids


CIRCLECI_WORKING_FOLDERS = tuple(
    p.rsplit("/", 1)[1]
    for p in (CIRCLECI_EXPORT_JOBS_PREFIX, CIRCLECI_INCOMING_PREFIX, CIRCLECI_IMPORTED_PREFIX)
)
_CIRCLECI_WEEK_OBJECT = re.compile(
    rf"^{re.escape(CIRCLECI_PREFIX)}/(?:([^/]+)/)?usage-data-(\d{{4}}-\d{{2}}-\d{{2}})-to-(\d{{4}}-\d{{2}}-\d{{2}})"
    rf"({re.escape(CIRCLECI_CSV_SUFFIX)}|{re.escape(CIRCLECI_JSON_SUFFIX)}|{re.escape(WEEK_MANIFEST_SUFFIX)})$"
)
_CIRCLECI_KINDS = {CIRCLECI_CSV_SUFFIX: "csv", CIRCLECI_JSON_SUFFIX: "json", WEEK_MANIFEST_SUFFIX: "manifest"}


def circleci_week_of(key: str) -> tuple[str | None, Week, str] | None:
    """(organisation folder or None when flat, week, "csv" | "json" | "manifest") of an archived week's object;
    None for any other key (working folders included)."""
    match = _CIRCLECI_WEEK_OBJECT.match(key)
    if not match or match.group(1) in CIRCLECI_WORKING_FOLDERS:
        return None
    week = _week_of_label(match.group(2), match.group(3))
    return (match.group(1), week, _CIRCLECI_KINDS[match.group(4)]) if week else None


def circleci_week_keys(org_folder: str | None, week: Week) -> dict[str, str]:
    """The keys of a week's objects by kind ("csv", "json", "manifest"), in `org_folder` (None: flat)."""
    stem = circleci_stem(org_folder, week)
    return {kind: stem + suffix for suffix, kind in _CIRCLECI_KINDS.items()}


def circleci_export_job_key(org_id: str, week: Week) -> str:
    return f"{CIRCLECI_EXPORT_JOBS_PREFIX}/{org_id}/{week.key}.json"


def circleci_incoming_key(name: str) -> str:
    return f"{CIRCLECI_INCOMING_PREFIX}/{name}"


def circleci_imported_key(name: str) -> str:
    return f"{CIRCLECI_IMPORTED_PREFIX}/{name}"


def rejection_note_key(key: str) -> str:
    """The note beside an incoming file that could not be imported."""
    return key + REJECTED_SUFFIX


# -- GitHub Actions -----------------------------------------------------------------------------------------------
def github_workflow_runs_key(week: Week) -> str:
    """`github-actions-usage/workflow-runs-<Monday>-to-<next Monday>.parquet`."""
    return f"{GITHUB_ACTIONS_PREFIX}/workflow-runs-{week.label}.parquet"


def github_billing_usage_key(week: Week) -> str:
    """`github-actions-usage/billing-usage-<Monday>-to-<next Monday>.parquet`: the week's billing ledger."""
    return f"{GITHUB_ACTIONS_PREFIX}/billing-usage-{week.label}.parquet"


def github_workflow_runs_manifest_key(week: Week) -> str:
    return f"{GITHUB_ACTIONS_PREFIX}/workflow-runs-{week.label}{WEEK_MANIFEST_SUFFIX}"


_GITHUB_WEEK_OBJECT = re.compile(
    rf"^{re.escape(GITHUB_ACTIONS_PREFIX)}/workflow-runs-(\d{{4}}-\d{{2}}-\d{{2}})-to-(\d{{4}}-\d{{2}}-\d{{2}})"
    rf"(\.parquet|{re.escape(WEEK_MANIFEST_SUFFIX)})$"
)


def github_week_of(key: str) -> tuple[Week, str] | None:
    """(week, "parquet" | "manifest") of an archived GitHub Actions week's object, else None."""
    match = _GITHUB_WEEK_OBJECT.match(key)
    week = _week_of_label(match.group(1), match.group(2)) if match else None
    if match is None or week is None:
        return None
    return week, "parquet" if match.group(3) == ".parquet" else "manifest"


def _week_of_label(monday: str, next_monday: str) -> Week | None:
    try:
        week = Week.parse(monday)
    except ValueError:
        return None
    return week if week.end_day.isoformat() == next_monday else None


def github_progress_folder(week: Week) -> str:
    """Where a week's per-repository progress lives until the week's file is stored (ends with '/')."""
    return f"{GITHUB_PROGRESS_PREFIX}/{week.key}/"


def github_progress_key(week: Week, repository: str, *, partial: bool = False) -> str:
    """A finished repository's progress (`done/`), or a repository part-way through its runs (`partial/`)."""
    owner, name = repository.split("/", 1)
    return f"{github_progress_folder(week)}{'partial' if partial else 'done'}/{owner}/{name}.parquet"


# -- CI costs -----------------------------------------------------------------------------------------------------
def ci_costs_key(week: Week) -> str:
    """`ci-costs/ci-costs-<Monday>-to-<next Monday>.parquet`: the week's cost table across providers."""
    return f"{CI_COSTS_PREFIX}/ci-costs-{week.label}.parquet"
