"""`circleci_import_export`: archive one usage export dropped in the CircleCI incoming/ folder.

A run of this job (requested by the `circleci_incoming_exports` sensor, or launched by hand with the object key
as config) downloads the export, splits it into weeks, merges each week into its stored CSV, uploads it and
moves the export to the imported/ folder (archive/layout.py), all with a run log. Every archived week is reported as a
materialization of `circleci/usage_csv`, so the hierarchical JSON follows through its automation condition.

A file that is not a usage export stays where it is with a `.rejected.txt` note beside it, and the run fails
with the reason (which the failure alert carries). The import is idempotent: a week already archived keeps
each job once.
"""

import dagster as dg
from pydantic import Field

from usage_archive.archive.layout import CIRCLECI_INCOMING_PREFIX, CircleCILayout
from usage_archive.archive.store import ArchiveStoreError
from usage_archive.circleci.incoming import NotAUsageExport, import_export, reject
from usage_archive.dagster_helpers import as_failure
from usage_archive.defs.circleci.assets import GROUP, USAGE_CSV
from usage_archive.defs.circleci.partitions import (
    CIRCLECI_LAYOUT,
    circleci_weekly_partitions,
    partition_key_for,
)
from usage_archive.resources.archive_store import ArchiveStoreResource

IMPORT_JOB = "circleci_import_export"
IMPORT_OP = "import_usage_export"
# A transient store error is retried by the op's own policy; a rejected file would only be rejected again, so
# the instance's run retries leave these runs alone.
IMPORT_TAGS = {"usage_archive/source": GROUP, "dagster/retry_on_asset_or_op_failure": "false"}


class ImportExportConfig(dg.Config):
    key: str = Field(
        description=f"object key of the export in the archive, under {CIRCLECI_INCOMING_PREFIX}/"
    )


def import_run_config(key: str) -> dict[str, object]:
    """The run config that imports the export stored at `key`."""
    return {"ops": {IMPORT_OP: {"config": {"key": key}}}}


def build_import_job(
    partitions_def: dg.PartitionsDefinition = circleci_weekly_partitions,
    layout: CircleCILayout = CIRCLECI_LAYOUT,
) -> dg.JobDefinition:
    @dg.op(
        name=IMPORT_OP,
        tags={"kind": "csv"},
        retry_policy=dg.RetryPolicy(max_retries=2, delay=30),
        description="Split an incoming usage export into weeks, merge each into its archived CSV, move the "
        "export to imported/ and report the weeks as materializations of circleci/usage_csv.",
    )
    def import_usage_export(
        context: dg.OpExecutionContext,
        config: ImportExportConfig,
        archive_store: ArchiveStoreResource,
    ) -> None:
        store = archive_store.get_store()
        if not config.key.startswith(f"{CIRCLECI_INCOMING_PREFIX}/"):
            raise dg.Failure(
                f"{config.key} is not under {CIRCLECI_INCOMING_PREFIX}/: only exports dropped there are imported",
                allow_retries=False,
            )
        try:
            if not store.exists(config.key):
                context.log.info(
                    f"{store.uri(config.key)} is gone: already imported by an earlier run, or removed"
                )
                return
            try:
                result = import_export(store, config.key, layout, log=context.log.info)
            except NotAUsageExport as exc:
                note = reject(store, config.key, str(exc))
                raise dg.Failure(
                    description=f"not imported: {exc} (left in place, reason in {note})", allow_retries=False
                ) from None
        except ArchiveStoreError as exc:
            raise as_failure(exc, retryable=(ArchiveStoreError,)) from None
        known = set(partitions_def.get_partition_keys())
        for week in result.weeks:
            partition = partition_key_for(week.org_id, week.week, partitions_def)
            if partition not in known:
                context.log.warning(
                    f"{week.csv_key} is archived, but week {week.week} is not a partition of the "
                    "CircleCI assets (see CIRCLECI_START_WEEK): its JSON is not built"
                )
                continue
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=USAGE_CSV,
                    partition=partition,
                    metadata={
                        "imported_from": result.moved_to,
                        "rows_imported": week.rows_in_file,
                        "object": dg.MetadataValue.path(store.uri(week.csv_key)),
                        "sha256": week.stored.sha256 or "",
                    },
                )
            )

    @dg.job(
        name=IMPORT_JOB,
        tags=IMPORT_TAGS,
        description=f"Archive one usage export dropped under {CIRCLECI_INCOMING_PREFIX}/ (config: its key).",
    )
    def circleci_import_export() -> None:
        import_usage_export()

    return circleci_import_export


circleci_import_export = build_import_job()
