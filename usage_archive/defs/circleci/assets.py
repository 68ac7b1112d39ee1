"""`circleci/usage_csv` (the week's Usage API export, parts merged into one CSV) and
`circleci/usage_hierarchical_json` (pipelines → workflows → jobs, derived from the stored CSV).

The CSV asset resumes a persisted export job instead of creating a new one, so a retry (the asset's retry
policy retries only "not ready yet" and "rate limited") never spends another of the API's ten POSTs an hour.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Optional

import dagster as dg

from usage_archive.archive.store import ArchiveStoreError
from usage_archive.circleci.api import CircleCIError, ExportNotReady, ExportWindowError, RateLimited
from usage_archive.circleci.columns import UsageExportFormatError
from usage_archive.circleci.weekly import ArchiveLayout, WeekCsv, WeekJson, archive_week_json, fetch_week_csv
from usage_archive.defs.circleci.partitions import (
    CIRCLECI_LAYOUT,
    circleci_weekly_partitions,
    split_partition_key,
)
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.circleci import CircleCIResource

GROUP = "circleci"
USAGE_CSV = dg.AssetKey(["circleci", "usage_csv"])
USAGE_JSON = dg.AssetKey(["circleci", "usage_hierarchical_json"])
EXPECTED_ERRORS = (CircleCIError, ExportWindowError, UsageExportFormatError, ArchiveStoreError)
RETRYABLE = (ExportNotReady, RateLimited)
DEFAULT_RETRY = dg.RetryPolicy(max_retries=3, delay=600)


def _failure(exc: Exception) -> dg.Failure:
    return dg.Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=isinstance(exc, RETRYABLE))


def _decimal_json(credits: dict[str, Decimal]) -> dg.MetadataValue:
    # Strings keep the exact digits; a float would not.
    return dg.MetadataValue.json({name: format(value, "f") for name, value in credits.items()})


def _csv_metadata(weeks: Sequence[tuple[str, WeekCsv]], uri: str) -> dict[str, object]:
    last = weeks[-1][1]
    metadata: dict[str, object] = {
        "dagster/row_count": sum(w.merge.rows for _, w in weeks),
        "parts": sum(w.parts for _, w in weeks),
        "columns": len(last.merge.columns),
        "unknown_columns": dg.MetadataValue.json(last.merge.unknown_columns),
        "export_job_id": last.job_id,
        "resumed_export_job": last.resumed,
        "bytes": last.stored.bytes,
        "sha256": last.stored.sha256 or "",
        "object": dg.MetadataValue.path(uri),
    }
    if len(weeks) > 1:
        metadata["rows_by_partition"] = dg.MetadataValue.json({k: w.merge.rows for k, w in weeks})
    return metadata


def build_circleci_assets(
    partitions_def: dg.PartitionsDefinition = circleci_weekly_partitions,
    layout: ArchiveLayout = CIRCLECI_LAYOUT,
    retry_policy: Optional[dg.RetryPolicy] = DEFAULT_RETRY,  # noqa: UP045
) -> list[dg.AssetsDefinition]:
    multi = isinstance(partitions_def, dg.MultiPartitionsDefinition)
    # One org: a --partition-range runs as one run, week after week. Several: one run per (org, week).
    backfill = dg.BackfillPolicy.multi_run(1) if multi else dg.BackfillPolicy.single_run()

    @dg.asset(
        key=USAGE_CSV,
        group_name=GROUP,
        partitions_def=partitions_def,
        backfill_policy=backfill,
        retry_policy=retry_policy,
        kinds={"csv"},
        tags={"source": "circleci_usage_api"},
        pool="circleci_usage_api",
        description="The week's CircleCI Usage API export (Monday 00:00 to Sunday 23:59:59 UTC): every gzip part "
        "merged into one CSV with a single header, stored as circleci-usage-data/usage-data-<monday>-"
        "to-<next monday>.csv (one folder per organisation when several are configured).",
    )
    def usage_csv(
        context: dg.AssetExecutionContext,
        archive_store: ArchiveStoreResource,
        circleci: CircleCIResource,
    ) -> dg.MaterializeResult:
        store = archive_store.get_store()
        weeks: list[tuple[str, WeekCsv]] = []
        try:
            client = circleci.get_client(log=context.log.info)
            for key in context.partition_keys:
                org, week = split_partition_key(key, partitions_def)
                org = org or circleci.single_org_id()
                context.log.info(
                    f"archiving CircleCI usage of {org} for the week of {week} into {store.uri()}"
                )
                weeks.append((key, fetch_week_csv(store, client, org, week, layout, log=context.log.info)))
        except EXPECTED_ERRORS as exc:
            raise _failure(exc) from None
        return dg.MaterializeResult(metadata=_csv_metadata(weeks, store.uri(weeks[-1][1].key)))

    @dg.asset(
        key=USAGE_JSON,
        group_name=GROUP,
        partitions_def=partitions_def,
        backfill_policy=backfill,
        deps=[USAGE_CSV],
        kinds={"json"},
        description="The week's usage as pipelines → workflows → jobs with project, trigger, timestamps, status, "
        "resource class, executor, duration, CPU/RAM utilisation and every *_CREDITS column; exact "
        "credit roll-ups per workflow, per pipeline and for the file. Derived from the stored CSV.",
    )
    def usage_hierarchical_json(
        context: dg.AssetExecutionContext,
        archive_store: ArchiveStoreResource,
    ) -> dg.MaterializeResult:
        store = archive_store.get_store()
        results: list[tuple[str, WeekJson]] = []
        try:
            for key in context.partition_keys:
                org, week = split_partition_key(key, partitions_def)
                csv_org = org or (layout.org_ids[0] if layout.org_ids else "")
                results.append((key, archive_week_json(store, layout, csv_org, week)))
                context.log.info(f"stored {store.uri(results[-1][1].key)}")
        except EXPECTED_ERRORS as exc:
            raise _failure(exc) from None
        last = results[-1][1]
        metadata: dict[str, object] = {
            "dagster/row_count": sum(r.hierarchy.jobs for _, r in results),
            "pipelines": last.hierarchy.pipelines,
            "workflows": last.hierarchy.workflows,
            "jobs": last.hierarchy.jobs,
            "duplicate_job_rows_dropped": last.hierarchy.duplicates_dropped,
            "credits": _decimal_json(last.hierarchy.credits),
            "bytes": last.stored.bytes,
            "sha256": last.stored.sha256 or "",
            "object": dg.MetadataValue.path(store.uri(last.key)),
        }
        if len(results) > 1:
            metadata["jobs_by_partition"] = dg.MetadataValue.json({k: r.hierarchy.jobs for k, r in results})
        return dg.MaterializeResult(metadata=metadata)

    return [usage_csv, usage_hierarchical_json]


usage_csv, usage_hierarchical_json = build_circleci_assets()
