"""Blocking integrity checks for the monthly archive, and a non-blocking check for late or deleted rows.

Built from the same table specs as the assets. Each check re-reads what is stored, so a failure means the
archive itself is wrong, not the run's memory of it. Blocking checks make `dagster asset materialize` exit
non-zero.
"""

from collections.abc import Iterator, Sequence
from datetime import date

import dagster as dg

from usage_archive.archive.store import ArchiveStoreError
from usage_archive.dagster_helpers import latest_materialization_metadata, run_partition_keys
from usage_archive.defs.billing.assets import MANIFEST_KEY, table_key
from usage_archive.defs.billing.partitions import billing_monthly_partitions
from usage_archive.defs.billing.tables import BILLING_TABLES, BillingTableSpec
from usage_archive.export.catalog import quote_qualified
from usage_archive.export.manifest import ManifestError, file_entry
from usage_archive.export.month import month_filter_sql, parse_period, read_manifest
from usage_archive.export.snapshot import open_snapshot
from usage_archive.export.verify import CHECKSUM_PROBLEMS, ROW_PROBLEMS, FileVerification, verify_file
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.billing_db import BillingDatabaseResource

ROW_COUNT = "row_count_matches_manifest"
CHECKSUM = "checksum_matches_manifest"
LISTS_EVERY_TABLE = "lists_every_table"
SOURCE_DRIFT = "source_row_count_unchanged"


def check_periods(
    context: dg.AssetCheckExecutionContext, partitions_def: dg.PartitionsDefinition
) -> list[date]:
    """The months this check run covers."""
    return [parse_period(k) for k in run_partition_keys(context, partitions_def, "a month (YYYY-MM-01)")]


def _exported_records(context: dg.AssetCheckExecutionContext, key: dg.AssetKey, period: date) -> int | None:
    """The row count the export step reported for this month, from the run history."""
    metadata = latest_materialization_metadata(context, key, f"{period:%Y-%m-%d}")
    if metadata is None:
        return None
    by_period = metadata.get("records_by_period")
    if by_period is not None:
        return by_period.value.get(f"{period:%Y-%m}")
    count = metadata.get("dagster/row_count")
    return count.value if count is not None else None


def build_billing_checks(
    specs: Sequence[BillingTableSpec] = BILLING_TABLES,
    partitions_def: dg.PartitionsDefinition = billing_monthly_partitions,
) -> list[dg.AssetChecksDefinition]:
    integrity_specs = [
        dg.AssetCheckSpec(
            name, asset=table_key(spec), blocking=True, partitions_def=partitions_def, description=description
        )
        for spec in specs
        for name, description in (
            (ROW_COUNT, "Parquet row count = manifest records = rows exported"),
            (CHECKSUM, "stored bytes and SHA-256 = manifest"),
        )
    ] + [
        dg.AssetCheckSpec(
            LISTS_EVERY_TABLE,
            asset=MANIFEST_KEY,
            blocking=True,
            partitions_def=partitions_def,
            description="the manifest exists and lists every configured table exactly once",
        )
    ]

    @dg.multi_asset_check(specs=integrity_specs, name="billing_archive_integrity")
    def billing_archive_integrity(
        context: dg.AssetCheckExecutionContext,
        archive_store: ArchiveStoreResource,
    ) -> Iterator[dg.AssetCheckResult]:
        store = archive_store.get_store()
        periods = check_periods(context, partitions_def)
        verified: dict[str, list[tuple[date, FileVerification | None, int | None]]] = {
            s.asset_name: [] for s in specs
        }
        manifest_problems: list[str] = []
        for period in periods:
            try:
                manifest = read_manifest(store, period)
            except (ManifestError, ArchiveStoreError) as exc:
                manifest, problem = None, f"{period:%Y-%m}: {exc}"
            else:
                problem = f"{period:%Y-%m}: no manifest in {store.uri()}" if manifest is None else None
            if problem:
                manifest_problems.append(problem)
            names = [f["table"] for f in manifest["files"]] if manifest else []
            for spec in specs:
                if manifest is not None and names.count(spec.asset_name) != 1:
                    manifest_problems.append(
                        f"{period:%Y-%m}: manifest lists {spec.asset_name!r} {names.count(spec.asset_name)} times"
                    )
                entry = file_entry(manifest, spec.asset_name) if manifest else None
                verification = verify_file(store, entry) if entry else None
                exported = _exported_records(context, table_key(spec), period)
                verified[spec.asset_name].append((period, verification, exported))

        for spec in specs:
            rows_problems, checksum_problems, rows_meta, checksum_meta = [], [], {}, {}
            for period, verification, exported in verified[spec.asset_name]:
                month = f"{period:%Y-%m}"
                if verification is None:
                    rows_problems.append(f"{month}: not in the manifest")
                    checksum_problems.append(f"{month}: not in the manifest")
                    continue
                rows_problems += [f"{month}: {p}" for p in verification.problems_of(*ROW_PROBLEMS)]
                checksum_problems += [f"{month}: {p}" for p in verification.problems_of(*CHECKSUM_PROBLEMS)]
                if exported is not None and exported != verification.expected_records:
                    rows_problems.append(
                        f"{month}: the export reported {exported} rows, the manifest says "
                        f"{verification.expected_records}"
                    )
                rows_meta[month] = {
                    "parquet": verification.parquet_records,
                    "manifest": verification.expected_records,
                    "exported": exported,
                }
                checksum_meta[month] = {
                    "bytes": verification.stored_bytes,
                    "sha256": verification.sha256,
                    "storage_class": verification.storage_class,
                }
            for name, problems, meta in (
                (ROW_COUNT, rows_problems, rows_meta),
                (CHECKSUM, checksum_problems, checksum_meta),
            ):
                yield dg.AssetCheckResult(
                    asset_key=table_key(spec),
                    check_name=name,
                    passed=not problems,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description="; ".join(problems) or None,
                    metadata={"by_period": dg.MetadataValue.json(meta), "problems": len(problems)},
                )
        yield dg.AssetCheckResult(
            asset_key=MANIFEST_KEY,
            check_name=LISTS_EVERY_TABLE,
            passed=not manifest_problems,
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(manifest_problems) or None,
            metadata={
                "expected_tables": dg.MetadataValue.json([s.asset_name for s in specs]),
                "periods": dg.MetadataValue.json([f"{p:%Y-%m}" for p in periods]),
            },
        )

    monthly = [s for s in specs if not s.export.is_snapshot]
    drift_specs = [
        dg.AssetCheckSpec(
            SOURCE_DRIFT,
            asset=table_key(s),
            blocking=False,
            partitions_def=partitions_def,
            description="the database still holds as many rows for the month as were "
            "archived (a warning means late or deleted rows)",
        )
        for s in monthly
    ]

    @dg.multi_asset_check(specs=drift_specs, name="billing_source_drift")
    def billing_source_drift(
        context: dg.AssetCheckExecutionContext,
        archive_store: ArchiveStoreResource,
        billing_db: BillingDatabaseResource,
    ) -> Iterator[dg.AssetCheckResult]:
        store = archive_store.get_store()
        periods = check_periods(context, partitions_def)
        counts: dict[str, dict[str, dict[str, int | None]]] = {s.asset_name: {} for s in monthly}
        error = None
        try:
            with open_snapshot(billing_db.get_url()) as session:
                for period in periods:
                    manifest = read_manifest(store, period)
                    for spec in monthly:
                        now_rows = session.query(
                            f"SELECT count(*) FROM {quote_qualified(spec.export.table)} "
                            f"WHERE {month_filter_sql(spec.export.time_column or '', period)}"
                        )[0][0]
                        entry = file_entry(manifest, spec.asset_name) if manifest else None
                        counts[spec.asset_name][f"{period:%Y-%m}"] = {
                            "archived": entry["records"] if entry else None,
                            "in_database_now": int(now_rows),
                        }
        except Exception as exc:  # a warning check: report, never fail the run
            error = f"{type(exc).__name__}: {exc}"
        for spec in monthly:
            drifted = {
                m: c for m, c in counts[spec.asset_name].items() if c["archived"] != c["in_database_now"]
            }
            yield dg.AssetCheckResult(
                asset_key=table_key(spec),
                check_name=SOURCE_DRIFT,
                passed=error is None and not drifted,
                severity=dg.AssetCheckSeverity.WARN,
                description=error
                or (
                    "; ".join(
                        f"{m}: archived {c['archived']}, database now has {c['in_database_now']}"
                        for m, c in drifted.items()
                    )
                    or None
                ),
                metadata={"by_period": dg.MetadataValue.json(counts[spec.asset_name])},
            )

    return [billing_archive_integrity, billing_source_drift]


billing_archive_integrity, billing_source_drift = build_billing_checks()

billing_archive_verify_job = dg.define_asset_job(
    "billing_archive_verify",
    selection=dg.AssetSelection.checks(billing_archive_integrity),
    description="Re-read a month's stored files and manifest and run the integrity checks, without exporting.",
)
