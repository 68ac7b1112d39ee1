"""Checks of a stored week.

`github_actions/workflow_runs` (blocking): every listed run has all its jobs, no job attempt is stored twice, and
the file is the one its manifest lists (row count; bytes and SHA-256). They re-read the stored Parquet file (its
footer holds the run list GitHub gave) and the week's manifest, so a failure means the archive itself is wrong:
the run fails and `dagster asset materialize` exits non-zero.

`github_actions/billing_usage` (WARN, not blocking: the ledger is GitHub's word, stored as given): the week's
estimate from workflow_runs agrees with the ledger's gross Actions minutes, repository by repository, within the
tolerance (GITHUB_LEDGER_TOLERANCE_PERCENT / _USD); and every item's gross − discount = net.
"""

import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg

from usage_archive.archive.layout import (
    github_billing_usage_key,
    github_workflow_runs_key,
    github_workflow_runs_manifest_key,
)
from usage_archive.archive.store import ArchiveStore, ArchiveStoreError
from usage_archive.costs.reconcile import compare, describe
from usage_archive.dagster_helpers import (
    CHECKSUM_MATCHES_MANIFEST,
    ROW_COUNT_MATCHES_MANIFEST,
    latest_materialization_metadata,
    manifest_check_specs,
    partitioned_check_result,
)
from usage_archive.defs.github_actions.assets import BILLING_USAGE_KEY, WORKFLOW_RUNS_KEY
from usage_archive.defs.partitions import weekly_partitions
from usage_archive.export.verify import ListedFile, verify_listed
from usage_archive.github_actions.archive_file import ArchiveFileError, read_archive
from usage_archive.github_actions.billing_usage import amount_problems, plain
from usage_archive.github_actions.collect import TABLE
from usage_archive.github_actions.ledger import (
    LedgerFileError,
    cost_items,
    covered_organizations,
    read_ledger_file,
)
from usage_archive.github_actions.verify import duplicate_attempt_problems, missing_job_problems
from usage_archive.periods import Week
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.settings import Settings

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
        period = Week.parse(week)
        key, manifest_key = github_workflow_runs_key(period), github_workflow_runs_manifest_key(period)
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


ESTIMATE_MATCHES_LEDGER = "actions_estimate_matches_ledger"
AMOUNTS_ADD_UP = "ledger_amounts_add_up"


def _reconcile_week(
    store: ArchiveStore, week: Week, tolerance_percent: Decimal, tolerance_usd: Decimal
) -> tuple[list[str], list[str], dict[str, Any]]:
    """(disagreements, amount problems, figures) of one week."""
    key = github_billing_usage_key(week)
    try:
        ledger = read_ledger_file(store.get_bytes(key))
    except (ArchiveStoreError, LedgerFileError) as exc:
        problem = f"{store.uri(key)}: {exc}"
        return [problem], [problem], {}
    amounts = amount_problems(ledger.table)
    runs_key = github_workflow_runs_key(week)
    if not store.exists(runs_key):
        return [], amounts, {"compared": 0, "note": "workflow_runs is not archived for the week: no estimate"}
    try:
        runs, info = read_archive(store.get_bytes(runs_key))
    except (ArchiveStoreError, ArchiveFileError) as exc:
        return [f"{store.uri(runs_key)}: {exc}"], amounts, {}
    covered = covered_organizations(ledger)
    repositories = [r for r in info["repositories"] if r.split("/", 1)[0].lower() in covered]
    comparisons = compare(
        runs,
        cost_items(ledger),
        repositories=repositories,
        tolerance_fraction=tolerance_percent / 100,
        tolerance_usd=tolerance_usd,
    )
    disagreeing = sorted(
        (c for c in comparisons if c.disagrees), key=lambda c: (-abs(c.difference_usd), c.repository.lower())
    )
    figures = {
        "compared": len(comparisons),
        "disagreeing": len(disagreeing),
        "estimated_usd": plain(sum((c.estimated_usd for c in comparisons), Decimal(0))),
        "ledger_gross_usd": plain(sum((c.ledger_gross_usd for c in comparisons), Decimal(0))),
        "not_covered_by_the_ledger": sorted(set(info["repositories"]) - set(repositories)),
    }
    return [describe(c) for c in disagreeing], amounts, figures


def build_billing_usage_checks(
    tolerance_percent: Decimal, tolerance_usd: Decimal
) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(
        name="github_actions_billing_usage_reconciliation",
        specs=[
            dg.AssetCheckSpec(
                ESTIMATE_MATCHES_LEDGER,
                asset=BILLING_USAGE_KEY,
                blocking=False,
                partitions_def=weekly_partitions,
                description="per repository, the week's estimated Actions cost (workflow_runs × the rates "
                "table) is within max("
                f"{tolerance_usd} USD, {tolerance_percent} %) of the ledger's gross Actions minutes "
                "(GITHUB_LEDGER_TOLERANCE_USD / _PERCENT); a warning lists each repository with both figures",
            ),
            dg.AssetCheckSpec(
                AMOUNTS_ADD_UP,
                asset=BILLING_USAGE_KEY,
                blocking=False,
                partitions_def=weekly_partitions,
                description="every ledger item's gross − discount equals its net, exactly",
            ),
        ],
    )
    def github_actions_billing_usage_reconciliation(
        context: dg.AssetCheckExecutionContext,
        archive_store: ArchiveStoreResource,
    ) -> Iterator[dg.AssetCheckResult]:
        store = archive_store.get_store()
        disagreements: dict[str, list[str]] = {}
        amounts: dict[str, list[str]] = {}
        figures: dict[str, Any] = {}
        for key in context.partition_keys:
            disagreements[key], amounts[key], figures[key] = _reconcile_week(
                store, Week.parse(key), tolerance_percent, tolerance_usd
            )
        warn = dg.AssetCheckSeverity.WARN
        metadata = {
            "by_week": dg.MetadataValue.json(figures),
            "tolerance": f"max({tolerance_usd} USD, {tolerance_percent} % of the ledger gross)",
        }
        yield partitioned_check_result(
            context,
            BILLING_USAGE_KEY,
            ESTIMATE_MATCHES_LEDGER,
            disagreements,
            severity=warn,
            metadata=metadata,
        )
        yield partitioned_check_result(context, BILLING_USAGE_KEY, AMOUNTS_ADD_UP, amounts, severity=warn)

    return github_actions_billing_usage_reconciliation


_SETTINGS = Settings.from_env()
github_actions_billing_usage_reconciliation = build_billing_usage_checks(
    _SETTINGS.ledger_tolerance_percent, _SETTINGS.ledger_tolerance_usd
)
