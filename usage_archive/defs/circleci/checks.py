"""Blocking checks of a CircleCI week: they re-read the stored files and the week's manifest, so a failure means
the archive itself disagrees, not the run's memory of it.

- `circleci/usage_csv`: `csv_is_a_usage_export`, and the CSV against its manifest entry
  (`row_count_matches_manifest`, `checksum_matches_manifest`);
- `circleci/usage_hierarchical_json`: the JSON against the CSV (`job_count_matches_csv`,
  `credit_totals_match_csv`), and the JSON against its manifest entry (the same two manifest checks).
"""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from usage_archive.archive.layout import CircleCILayout
from usage_archive.archive.store import ArchiveStoreError
from usage_archive.circleci.manifest import CSV_TABLE, JSON_TABLE
from usage_archive.circleci.verify import compare, csv_problems, summarize_csv, summarize_json
from usage_archive.dagster_helpers import (
    CHECKSUM_MATCHES_MANIFEST,
    ROW_COUNT_MATCHES_MANIFEST,
    manifest_check_specs,
    partitioned_check_result,
)
from usage_archive.defs.circleci.assets import USAGE_CSV, USAGE_JSON
from usage_archive.defs.circleci.partitions import (
    CIRCLECI_LAYOUT,
    circleci_weekly_partitions,
    split_partition_key,
)
from usage_archive.export.verify import ListedFile, verify_listed
from usage_archive.resources.archive_store import ArchiveStoreResource

JOB_COUNT = "job_count_matches_csv"
CREDIT_TOTALS = "credit_totals_match_csv"
READABLE_EXPORT = "csv_is_a_usage_export"


def _manifest_results(
    context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey, listed: dict[str, ListedFile]
) -> Iterator[dg.AssetCheckResult]:
    """The two manifest checks of one asset over the run's partitions."""
    metadata = {"by_partition": dg.MetadataValue.json({k: v.summary() for k, v in listed.items()})}
    for name, problems in (
        (ROW_COUNT_MATCHES_MANIFEST, {k: v.row_problems for k, v in listed.items()}),
        (CHECKSUM_MATCHES_MANIFEST, {k: v.checksum_problems for k, v in listed.items()}),
    ):
        yield partitioned_check_result(context, asset_key, name, problems, metadata=metadata)


def build_circleci_checks(
    partitions_def: dg.PartitionsDefinition = circleci_weekly_partitions,
    layout: CircleCILayout = CIRCLECI_LAYOUT,
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
        *manifest_check_specs(USAGE_JSON, partitions_def, "hierarchical JSON"),
    ]

    @dg.multi_asset_check(specs=specs, name="circleci_usage_integrity")
    def circleci_usage_integrity(
        context: dg.AssetCheckExecutionContext,
        archive_store: ArchiveStoreResource,
    ) -> Iterator[dg.AssetCheckResult]:
        store = archive_store.get_store()
        job_problems: dict[str, list[str]] = {}  # partition key → problems
        credit_problems: dict[str, list[str]] = {}
        counts: dict[str, dict[str, int]] = {}
        listed: dict[str, ListedFile] = {}
        for key in context.partition_keys:  # one week, or a range backfilled in one run
            org, week = split_partition_key(key, partitions_def)
            org = org or (layout.org_ids[0] if layout.org_ids else "")
            jobs_found, credits_found = job_problems.setdefault(key, []), credit_problems.setdefault(key, [])
            with tempfile.TemporaryDirectory(prefix="circleci-check-") as tmp:
                csv_path, json_path = Path(tmp) / "week.csv", Path(tmp) / "week.json"
                try:
                    store.download(layout.csv_key(org, week), csv_path)
                    store.download(layout.json_key(org, week), json_path)
                    csv_summary, json_summary = summarize_csv(csv_path), summarize_json(json_path)
                except (ArchiveStoreError, ValueError) as exc:
                    jobs_found.append(f"{type(exc).__name__}: {exc}")
                    credits_found.append(f"{type(exc).__name__}: {exc}")
                    json_path = None
                listed[key] = verify_listed(
                    store,
                    layout.manifest_key(org, week),
                    JSON_TABLE,
                    local=json_path,
                    count_rows=(lambda _path, jobs=json_summary.jobs: jobs) if json_path else None,
                )
                if json_path is None:
                    continue
            jobs, credits = compare(csv_summary, json_summary)
            jobs_found += jobs
            credits_found += credits
            counts[key] = {"csv_distinct_jobs": csv_summary.jobs, "json_jobs": json_summary.jobs}
        yield partitioned_check_result(
            context,
            USAGE_JSON,
            JOB_COUNT,
            job_problems,
            metadata={"by_partition": dg.MetadataValue.json(counts)},
        )
        yield partitioned_check_result(context, USAGE_JSON, CREDIT_TOTALS, credit_problems)
        yield from _manifest_results(context, USAGE_JSON, listed)

    csv_spec = dg.AssetCheckSpec(
        READABLE_EXPORT,
        asset=USAGE_CSV,
        blocking=True,
        partitions_def=partitions_def,
        description="the stored CSV has every required column, rows of the header's width and numeric credits",
    )

    @dg.multi_asset_check(
        specs=[csv_spec, *manifest_check_specs(USAGE_CSV, partitions_def, "CSV")],
        name="circleci_usage_csv_readable",
    )
    def circleci_usage_csv_readable(
        context: dg.AssetCheckExecutionContext,
        archive_store: ArchiveStoreResource,
    ) -> Iterator[dg.AssetCheckResult]:
        store = archive_store.get_store()
        problems: dict[str, list[str]] = {}
        listed: dict[str, ListedFile] = {}
        for key in context.partition_keys:
            org, week = split_partition_key(key, partitions_def)
            org = org or (layout.org_ids[0] if layout.org_ids else "")
            csv_key = layout.csv_key(org, week)
            found = problems.setdefault(key, [])
            with tempfile.TemporaryDirectory(prefix="circleci-check-") as tmp:
                path: Path | None = Path(tmp) / "week.csv"
                try:
                    store.download(csv_key, path)
                except ArchiveStoreError as exc:
                    found.append(str(exc))
                    path = None
                else:
                    found += csv_problems(path, csv_key)
                listed[key] = verify_listed(store, layout.manifest_key(org, week), CSV_TABLE, local=path)
        yield partitioned_check_result(context, USAGE_CSV, READABLE_EXPORT, problems)
        yield from _manifest_results(context, USAGE_CSV, listed)

    return [circleci_usage_integrity, circleci_usage_csv_readable]


circleci_usage_integrity, circleci_usage_csv_readable = build_circleci_checks()

circleci_usage_verify_job = dg.define_asset_job(
    "circleci_usage_verify",
    selection=dg.AssetSelection.checks(circleci_usage_integrity, circleci_usage_csv_readable),
    description="Re-read a week's stored CSV and JSON and run the CircleCI checks, without calling the API.",
)
