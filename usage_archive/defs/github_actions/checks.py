"""Blocking checks of a stored week: every listed run has all its jobs, and no job attempt is stored twice.

They re-read the stored Parquet file (its footer holds the run list GitHub gave), so a failure means the
archive itself is wrong. Blocking: a failing check fails the run and `dagster asset materialize` exits non-zero.
"""

from collections.abc import Iterator

import dagster as dg

from usage_archive.archive.store import ArchiveStoreError
from usage_archive.dagster_helpers import latest_materialization_metadata, run_partition_keys
from usage_archive.defs.github_actions.assets import WORKFLOW_RUNS_KEY
from usage_archive.defs.github_actions.partitions import github_actions_weekly_partitions
from usage_archive.github_actions.archive_file import ArchiveFileError, read_archive
from usage_archive.github_actions.verify import duplicate_attempt_problems, missing_job_problems
from usage_archive.github_actions.week import archive_key
from usage_archive.resources.archive_store import ArchiveStoreResource

EVERY_RUN_HAS_ITS_JOBS = "every_run_has_its_jobs"
NO_DUPLICATE_JOB_ATTEMPTS = "no_duplicate_job_attempts"


def check_weeks(context: dg.AssetCheckExecutionContext) -> list[str]:
    """The weeks this check run covers."""
    return run_partition_keys(context, github_actions_weekly_partitions, "a week (the Monday, YYYY-MM-DD)")


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
            partitions_def=github_actions_weekly_partitions,
            description="every run GitHub listed for the week has as many job rows as GitHub "
            "reported jobs (no run silently dropped), and no row lacks its run",
        ),
        dg.AssetCheckSpec(
            NO_DUPLICATE_JOB_ATTEMPTS,
            asset=WORKFLOW_RUNS_KEY,
            blocking=True,
            partitions_def=github_actions_weekly_partitions,
            description="no job attempt (job id) is stored twice",
        ),
    ],
)
def github_actions_workflow_runs_integrity(
    context: dg.AssetCheckExecutionContext,
    archive_store: ArchiveStoreResource,
) -> Iterator[dg.AssetCheckResult]:
    store = archive_store.get_store()
    missing: list[str] = []
    duplicates: list[str] = []
    counts: dict[str, dict[str, int | None]] = {}
    for week in check_weeks(context):
        key = archive_key(week)
        try:
            table, info = read_archive(store.get_bytes(key))
        except (ArchiveStoreError, ArchiveFileError) as exc:
            missing.append(f"{week}: {store.uri(key)}: {exc}")
            duplicates.append(f"{week}: {store.uri(key)} cannot be read")
            continue
        missing += [f"{week}: {p}" for p in missing_job_problems(table, info)]
        duplicates += [f"{week}: {p}" for p in duplicate_attempt_problems(table)]
        reported = _reported_jobs(context, week)
        if reported is not None and reported != table.num_rows:
            missing.append(
                f"{week}: the materialization reported {reported} jobs, the file holds {table.num_rows}"
            )
        counts[week] = {
            "rows": table.num_rows,
            "reported_jobs": reported,
            "runs": sum(len(e["runs"]) for e in info["repositories"].values()),
        }
    for name, problems in ((EVERY_RUN_HAS_ITS_JOBS, missing), (NO_DUPLICATE_JOB_ATTEMPTS, duplicates)):
        yield dg.AssetCheckResult(
            asset_key=WORKFLOW_RUNS_KEY,
            check_name=name,
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(problems) or None,
            metadata={"by_week": dg.MetadataValue.json(counts), "problems": len(problems)},
        )


github_actions_verify_job = dg.define_asset_job(
    "github_actions_verify",
    selection=dg.AssetSelection.checks(github_actions_workflow_runs_integrity),
    description="Re-read a week's stored file and run the integrity checks, without asking GitHub again.",
)
