"""Import of existing exports: watches circleci-usage-data/incoming/ in the archive.

Each new `.csv`/`.csv.gz` is archived as the week(s) it covers (reported as materializations of
`circleci/usage_csv`), moved to circleci-usage-data/imported/, and a run of `circleci/usage_hierarchical_json`
(with its blocking checks) is requested for each of those weeks, so the JSON follows without a manual step.
A file that is not a usage export stays in place with a `.rejected.txt` note; it is looked at again only
when it changes (the cursor remembers its size).
"""

import json

import dagster as dg

from usage_archive.circleci.incoming import NotAUsageExport, import_export, incoming_files, reject
from usage_archive.circleci.weekly import ArchiveLayout
from usage_archive.defs.circleci.assets import USAGE_CSV, USAGE_JSON
from usage_archive.defs.circleci.partitions import (
    CIRCLECI_LAYOUT,
    circleci_weekly_partitions,
    partition_key_for,
)
from usage_archive.resources.archive_store import ArchiveStoreResource


def build_incoming_sensor(
    partitions_def: dg.PartitionsDefinition = circleci_weekly_partitions,
    layout: ArchiveLayout = CIRCLECI_LAYOUT,
) -> dg.SensorDefinition:
    @dg.sensor(
        name="circleci_incoming_exports",
        minimum_interval_seconds=60,
        asset_selection=[USAGE_JSON],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Archives usage exports dropped under circleci-usage-data/incoming/ and builds their JSON",
    )
    def circleci_incoming_exports(
        context: dg.SensorEvaluationContext,
        archive_store: ArchiveStoreResource,
    ) -> dg.SensorResult:
        store = archive_store.get_store()
        rejected: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        events: list[dg.AssetMaterialization] = []
        requests: list[dg.RunRequest] = []
        known = set(partitions_def.get_partition_keys())
        for item in incoming_files(store):
            if rejected.get(item.key) == item.bytes:
                continue
            try:
                result = import_export(store, item.key, layout, log=context.log.info)
            except NotAUsageExport as exc:
                note = reject(store, item.key, str(exc))
                rejected[item.key] = item.bytes
                context.log.warning(f"not imported: {exc} (left in place, reason in {note})")
                continue
            rejected.pop(item.key, None)
            for week in result.weeks:
                key = partition_key_for(week.org_id, week.week, partitions_def)
                if key not in known:
                    context.log.warning(
                        f"{week.csv_key} is archived, but week {week.week} is not a partition of "
                        "the CircleCI assets (see CIRCLECI_START_WEEK): no JSON run requested"
                    )
                    continue
                events.append(
                    dg.AssetMaterialization(
                        asset_key=USAGE_CSV,
                        partition=key,
                        metadata={
                            "imported_from": result.moved_to,
                            "rows_imported": week.rows_in_file,
                            "object": dg.MetadataValue.path(store.uri(week.csv_key)),
                            "sha256": week.stored.sha256 or "",
                        },
                    )
                )
                requests.append(
                    dg.RunRequest(
                        run_key=f"import:{result.moved_to}:{key}",
                        partition_key=key,
                        tags={"usage_archive/imported_from": result.moved_to},
                    )
                )
        return dg.SensorResult(
            run_requests=requests, asset_events=events, cursor=json.dumps(rejected, sort_keys=True)
        )

    return circleci_incoming_exports


circleci_incoming_exports = build_incoming_sensor()


def _run_plans_json(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether the run that stored the CSV also planned the JSON (the scheduled job, a both-assets backfill)."""
    planned = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ).records
    return any(
        r.event_log_entry.dagster_event is not None
        and r.event_log_entry.dagster_event.asset_key == USAGE_JSON
        for r in planned
    )


def build_json_follows_csv_sensor() -> dg.SensorDefinition:
    @dg.sensor(
        name="circleci_json_follows_csv",
        minimum_interval_seconds=60,
        asset_selection=[USAGE_JSON],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="When a run materializes circleci/usage_csv without the JSON (say, from the UI), "
        "requests circleci/usage_hierarchical_json for the same partition",
    )
    def circleci_json_follows_csv(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        after = int(context.cursor) if context.cursor else None
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=USAGE_CSV, after_storage_id=after), limit=200, ascending=True
        ).records
        requests: list[dg.RunRequest] = []
        for record in records:
            after = record.storage_id
            if not record.run_id or not record.partition_key:
                continue  # imports (runless events) get their JSON run from circleci_incoming_exports
            if _run_plans_json(context.instance, record.run_id):
                continue  # that run builds the JSON itself
            requests.append(
                dg.RunRequest(
                    run_key=f"follow:{record.storage_id}",
                    partition_key=record.partition_key,
                    tags={"usage_archive/follows_run": record.run_id},
                )
            )
        if after is None and not records:
            return dg.SensorResult(skip_reason="no materialization of circleci/usage_csv yet")
        return dg.SensorResult(run_requests=requests, cursor=str(after) if after is not None else None)

    return circleci_json_follows_csv


circleci_json_follows_csv = build_json_follows_csv_sensor()
