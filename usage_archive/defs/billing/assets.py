"""One asset factory for the monthly billing archive: `billing/<table>` for each spec, plus `billing/manifest`.

All assets of a month materialize in one step, because they must come from one database snapshot and the
manifest must be written after every file it lists. Partition ranges run as a single run (the CLI's
`--partition-range` needs that), one month after another, each month atomic on its own.
"""

from collections.abc import Iterator, Sequence
from typing import Literal

import dagster as dg
from pydantic import Field

from usage_archive.archive.store import ArchiveStoreError
from usage_archive.defs.billing.partitions import billing_monthly_partitions
from usage_archive.defs.billing.tables import BILLING_TABLES, BillingTableSpec, validate_table_specs
from usage_archive.export.catalog import ColumnMissingError, TableMissingError
from usage_archive.export.manifest import ManifestError
from usage_archive.export.month import MonthArchive, PeriodError, archive_month, parse_period
from usage_archive.export.parquet_export import ExportTypeError
from usage_archive.export.snapshot import BillingDatabaseError, BillingDatabaseNotConfigured
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.billing_db import BillingDatabaseResource

GROUP = "billing"
MANIFEST_KEY = dg.AssetKey(["billing", "manifest"])
# Runs that read the production billing database carry this tag; dagster.yaml lets one such run at a time.
BILLING_DB_TAGS = {"usage_archive/database": "billing"}
EXPECTED_ERRORS = (
    BillingDatabaseNotConfigured,
    BillingDatabaseError,
    TableMissingError,
    ColumnMissingError,
    PeriodError,
    ArchiveStoreError,
    ExportTypeError,
    ManifestError,
)


def table_key(spec: BillingTableSpec) -> dg.AssetKey:
    return dg.AssetKey(["billing", spec.asset_name])


class BillingExportConfig(dg.Config):
    codec: Literal["zstd", "gzip"] = Field(
        default="zstd",
        description="Parquet codec; gzip names files .parquet.gz like the original script",
    )


def _table_metadata(spec: BillingTableSpec, months: list[MonthArchive], uri: str) -> dict[str, object]:
    files = [next(f for f in m.files if f.spec == spec.export) for m in months]
    last = files[-1]
    metadata: dict[str, object] = {
        "dagster/row_count": sum(f.result.records for f in files),
        "records": sum(f.result.records for f in files),
        "bytes": sum(f.result.bytes for f in files),
        "sha256": last.result.sha256,
        "object": dg.MetadataValue.path(uri),
        "codec": last.result.codec,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(c["name"], c["type"]) for c in last.result.columns]
        ),
    }
    if len(months) > 1:
        metadata["records_by_period"] = dg.MetadataValue.json(
            {m.period: f.result.records for m, f in zip(months, files, strict=True)}
        )
    return metadata


def build_billing_archive(
    specs: Sequence[BillingTableSpec] = BILLING_TABLES,
    partitions_def: dg.PartitionsDefinition = billing_monthly_partitions,
) -> dg.AssetsDefinition:
    validate_table_specs(specs)
    table_specs = [
        dg.AssetSpec(
            key=table_key(spec),
            group_name=GROUP,
            description=spec.description,
            kinds={"parquet", "postgres"},
            tags={"source": "billing_db"},
            metadata={
                "source_table": spec.export.table,
                "selection": "whole table"
                if spec.export.is_snapshot
                else f"{spec.export.time_column} within the month (UTC)",
            },
        )
        for spec in specs
    ]
    manifest_spec = dg.AssetSpec(
        key=MANIFEST_KEY,
        group_name=GROUP,
        kinds={"json"},
        deps=[s.key for s in table_specs],
        description="The month's manifest: every file with its row count, SHA-256, size, columns and codec, "
        "plus the database snapshot it was read from. Written last.",
    )

    @dg.multi_asset(
        name="billing_month_archive",
        specs=[*table_specs, manifest_spec],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=False,
        pool="billing_db",
        op_tags=BILLING_DB_TAGS,
    )
    def billing_month_archive(
        context: dg.AssetExecutionContext,
        config: BillingExportConfig,
        archive_store: ArchiveStoreResource,
        billing_db: BillingDatabaseResource,
    ) -> Iterator[dg.MaterializeResult]:
        try:
            store = archive_store.get_store()
            url = billing_db.get_url()
            months = []
            for key in context.partition_keys:
                context.log.info(f"archiving billing month {key[:7]} into {store.uri()}")
                months.append(
                    archive_month(
                        store,
                        url,
                        [s.export for s in specs],
                        parse_period(key),
                        codec=config.codec,
                        run_id=context.run.run_id,
                        log=context.log.info,
                    )
                )
        except EXPECTED_ERRORS as exc:
            raise dg.Failure(description=f"{type(exc).__name__}: {exc}", allow_retries=False) from None
        for spec in specs:
            last_key = next(f.key for f in months[-1].files if f.spec == spec.export)
            yield dg.MaterializeResult(
                asset_key=table_key(spec), metadata=_table_metadata(spec, months, store.uri(last_key))
            )
        last = months[-1]
        yield dg.MaterializeResult(
            asset_key=MANIFEST_KEY,
            metadata={
                "periods": dg.MetadataValue.json([m.period for m in months]),
                "files": len(last.manifest["files"]),
                "records": last.manifest["totals"]["records"],
                "snapshot": dg.MetadataValue.json(last.manifest["snapshot"]),
                "manifest": dg.MetadataValue.path(store.uri(last.manifest_key)),
                "schema_version": last.manifest["schema_version"],
            },
        )

    return billing_month_archive


billing_month_archive = build_billing_archive()
