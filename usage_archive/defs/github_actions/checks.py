"""Blocking checks of a stored week: every listed run has all its jobs, no job attempt is stored twice, and the
file is the one its manifest lists (row count; bytes and SHA-256).

They re-read the stored Parquet file (its footer holds the run list GitHub gave) and the week's manifest, so a
failure means the archive itself is wrong. Blocking: a failing check fails the run and `dagster asset
materialize` exits non-zero.
"""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from usage_archive.archive.layout import github_workflow_runs_key, github_workflow_runs_manifest_key
from usage_archive.archive.store import ArchiveStoreError
from usage_archive.dagster_helpers import (
    CHECKSUM_MATCHES_MANIFEST,
    ROW_COUNT_MATCHES_MANIFEST,
    latest_materialization_metadata,
    manifest_check_specs,
    partitioned_check_result,
)
from usage_archive.defs.github_actions.assets import WORKFLOW_RUNS_KEY
from usage_archive.defs.partitions import weekly_partitions
from usage_archive.export.verify import ListedFile, verify_listed
from usage_archive.github_actions.archive_file import ArchiveFileError, read_archive
from usage_archive.github_actions.collect import TABLE
from usage_archive.github_actions.verify import duplicate_attempt_problems, missing_job_problems
from usage_archive.periods import Week
from usage_archive.resources.archive_store import ArchiveStoreResource

EVERY_RUN_HAS_ITS_JOBS = "every_run_has_its_jobs"
NO_DUPLICATE_JOB_ATTEMPTS = "no_duplicate_job_attempts"


def _reported_jobs(context: dg.AssetCheckExecutionContext, week: str) -> int | None:
    """The job count the materialization of this week reported, from the run history."""
    metadata = latest_materialization_metadata(context, WORKFLOW_RUNS_KEY, week)
    if metadata is None:
        return None
    by_week = metadata.get("by_week")
    if by_week is not None:
        return by_week.value.get(week, {}).get("jobs")
    jobs = metadata.get("jobs")
    return jobs.value if jobs is not None else None


@dg.multi_asset_check(
    name="github_actions_workflow_runs_integrity",
    specs=[
        dg.AssetCheckSpec(
            EVERY_RUN_HAS_ITS_JOBS,
            asset=WORKFLOW_RUNS_KEY,
            blocking=True,
            partitions_def=weekly_partitions,
            description="every run GitHub listed for the week has as many job rows as GitHub "
            "reported jobs (no run silently dropped), and no row lacks its run",
        ),
        dg.AssetCheckSpec(
            NO_DUPLICATE_JOB_ATTEMPTS,
            asset=WORKFLOW_RUNS_KEY,
            blocking=True,
            partitions_def=weekly_partitions,
            description="no job attempt (job id) is stored twice",
        ),
        *manifest_check_specs(WORKFLOW_RUNS_KEY, weekly_partitions, "Parquet file"),
    ],
)
def github_actions_workflow_runs_integrity(
    context: dg.AssetCheckExecutionContext,
    archive_store: ArchiveStoreResource,
) -> Iterator[dg.AssetCheckResult]:
    store = archive_store.get_store()
    missing: dict[str, list[str]] = {}  # partition key → problems
    duplicates: dict[str, list[str]] = {}
    counts: dict[str, dict[str, int | None]] = {}
    listed: dict[str, ListedFile] = {}
    for week in context.partition_keys:  # one week, or a range backfilled in one run
        key = github_workflow_runs_key(Week.parse(week))
        manifest_key = github_workflow_runs_manifest_key(Week.parse(week))
        missing_found, duplicates_found = missing.setdefault(week, []), duplicates.setdefault(week, [])
        try:
            data = store.get_bytes(key)
        except ArchiveStoreError as exc:
            data = None
            missing_found.append(f"{store.uri(key)}: {exc}")
            duplicates_found.append(f"{store.uri(key)} cannot be read")
        with tempfile.TemporaryDirectory(prefix="github-check-") as tmp:
            local = None
            if data is not None:
                local = Path(tmp) / "week.parquet"
                local.write_bytes(data)
            listed[week] = verify_listed(store, manifest_key, TABLE, local=local)
        if data is None:
            continue
        try:
            table, info = read_archive(data)
        except ArchiveFileError as exc:
            missing_found.append(f"{store.uri(key)}: {exc}")
            duplicates_found.append(f"{store.uri(key)} cannot be read")
            continue
        missing_found += missing_job_problems(table, info)
        duplicates_found += duplicate_attempt_problems(table)
        reported = _reported_jobs(context, week)
        if reported is not None and reported != table.num_rows:
            missing_found.append(
                f"the materialization reported {reported} jobs, the file holds {table.num_rows}"
            )
        counts[week] = {
            "rows": table.num_rows,
            "reported_jobs": reported,
            "runs": sum(len(e["runs"]) for e in info["repositories"].values()),
        }
    for name, problems in ((EVERY_RUN_HAS_ITS_JOBS, missing), (NO_DUPLICATE_JOB_ATTEMPTS, duplicates)):
        yield partitioned_check_result(
            context, WORKFLOW_RUNS_KEY, name, problems, metadata={"by_week": dg.MetadataValue.json(counts)}
        )
    summaries = {"by_week": dg.MetadataValue.json({k: v.summary() for k, v in listed.items()})}
    for name, found in (
        (ROW_COUNT_MATCHES_MANIFEST, {k: v.row_problems for k, v in listed.items()}),
        (CHECKSUM_MATCHES_MANIFEST, {k: v.checksum_problems for k, v in listed.items()}),
    ):
        yield partitioned_check_result(context, WORKFLOW_RUNS_KEY, name, found, metadata=summaries)


github_actions_verify_job = dg.define_asset_job(
    "github_actions_verify",
    selection=dg.AssetSelection.checks(github_actions_workflow_runs_integrity),
    description="Re-read a week's stored file and run the integrity checks, without asking GitHub again.",
)
