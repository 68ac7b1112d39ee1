"""Blocking checks on `circleci/usage_hierarchical_json`: they re-read both stored files, so a failure means the
archive itself disagrees, not the run's memory of it."""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from usage_archive.archive.store import ArchiveStoreError
from usage_archive.circleci.verify import compare, csv_problems, summarize_csv, summarize_json
from usage_archive.circleci.weekly import ArchiveLayout
from usage_archive.dagster_helpers import run_partition_keys
from usage_archive.defs.circleci.assets import USAGE_CSV, USAGE_JSON
from usage_archive.defs.circleci.partitions import (
    CIRCLECI_LAYOUT,
    circleci_weekly_partitions,
    split_partition_key,
)
from usage_archive.resources.archive_store import ArchiveStoreResource

JOB_COUNT = "job_count_matches_csv"
CREDIT_TOTALS = "credit_totals_match_csv"
READABLE_EXPORT = "csv_is_a_usage_export"


def build_circleci_checks(
    partitions_def: dg.PartitionsDefinition = circleci_weekly_partitions,
    layout: ArchiveLayout = CIRCLECI_LAYOUT,
) -> list[dg.AssetChecksDefinition]:
    specs = [
        dg.AssetCheckSpec(
            JOB_COUNT,
            asset=USAGE_JSON,
            blocking=True,
            partitions_def=partitions_def,
            description="the JSON holds exactly the CSV's distinct jobs, each once",
        ),
        dg.AssetCheckSpec(
            CREDIT_TOTALS,
            asset=USAGE_JSON,
            blocking=True,
            partitions_def=partitions_def,
            description="every credit column's total in the JSON (jobs and roll-ups) equals the "
            "CSV's exact decimal sum",
        ),
    ]

    @dg.multi_asset_check(specs=specs, name="circleci_usage_integrity")
    def circleci_usage_integrity(
        context: dg.AssetCheckExecutionContext,
        archive_store: ArchiveStoreResource,
    ) -> Iterator[dg.AssetCheckResult]:
        store = archive_store.get_store()
        job_problems: list[str] = []
        credit_problems: list[str] = []
        counts: dict[str, dict[str, int]] = {}
        for key in run_partition_keys(context, partitions_def, "a week"):
            org, week = split_partition_key(key, partitions_def)
            org = org or (layout.org_ids[0] if layout.org_ids else "")
            with tempfile.TemporaryDirectory(prefix="circleci-check-") as tmp:
                csv_path, json_path = Path(tmp) / "week.csv", Path(tmp) / "week.json"
                try:
                    store.download(layout.csv_key(org, week), csv_path)
                    store.download(layout.json_key(org, week), json_path)
                    csv_summary, json_summary = summarize_csv(csv_path), summarize_json(json_path)
                except (ArchiveStoreError, ValueError) as exc:
                    problem = f"{key}: {type(exc).__name__}: {exc}"
                    job_problems.append(problem)
                    credit_problems.append(problem)
                    continue
            jobs, credits = compare(csv_summary, json_summary)
            job_problems += [f"{key}: {p}" for p in jobs]
            credit_problems += [f"{key}: {p}" for p in credits]
            counts[key] = {"csv_distinct_jobs": csv_summary.jobs, "json_jobs": json_summary.jobs}
        yield dg.AssetCheckResult(
            check_name=JOB_COUNT,
            asset_key=USAGE_JSON,
            passed=not job_problems,
            description="; ".join(job_problems)[:2000] or None,
            metadata={"by_partition": dg.MetadataValue.json(counts)},
        )
        yield dg.AssetCheckResult(
            check_name=CREDIT_TOTALS,
            asset_key=USAGE_JSON,
            passed=not credit_problems,
            description="; ".join(credit_problems)[:2000] or None,
            metadata={"problems": len(credit_problems)},
        )

    csv_spec = dg.AssetCheckSpec(
        READABLE_EXPORT,
        asset=USAGE_CSV,
        blocking=True,
        partitions_def=partitions_def,
        description="the stored CSV has every required column, rows of the header's width and numeric credits",
    )

    @dg.multi_asset_check(specs=[csv_spec], name="circleci_usage_csv_readable")
    def circleci_usage_csv_readable(
        context: dg.AssetCheckExecutionContext,
        archive_store: ArchiveStoreResource,
    ) -> Iterator[dg.AssetCheckResult]:
        store = archive_store.get_store()
        problems: list[str] = []
        for key in run_partition_keys(context, partitions_def, "a week"):
            org, week = split_partition_key(key, partitions_def)
            csv_key = layout.csv_key(org or (layout.org_ids[0] if layout.org_ids else ""), week)
            with tempfile.TemporaryDirectory(prefix="circleci-check-") as tmp:
                path = Path(tmp) / "week.csv"
                try:
                    store.download(csv_key, path)
                except ArchiveStoreError as exc:
                    problems.append(f"{key}: {exc}")
                    continue
                problems += [f"{key}: {p}" for p in csv_problems(path, csv_key)]
        yield dg.AssetCheckResult(
            check_name=READABLE_EXPORT,
            asset_key=USAGE_CSV,
            passed=not problems,
            description="; ".join(problems)[:2000] or None,
        )

    return [circleci_usage_integrity, circleci_usage_csv_readable]


circleci_usage_integrity, circleci_usage_csv_readable = build_circleci_checks()

circleci_usage_verify_job = dg.define_asset_job(
    "circleci_usage_verify",
    selection=dg.AssetSelection.checks(circleci_usage_integrity, circleci_usage_csv_readable),
    description="Re-read a week's stored CSV and JSON and run the CircleCI checks, without calling the API.",
)
