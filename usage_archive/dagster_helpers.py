"""Small Dagster helpers shared by the sources' checks."""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,  # not exported at the top level in 1.13
)


def run_partition_keys(
    context: dg.AssetCheckExecutionContext,
    partitions_def: dg.PartitionsDefinition,
    what: str,
) -> list[str]:
    """The partition keys a check run covers, from the run's tags (one partition, or a backfilled range).

    Checks read the tags rather than a partition context so the same check serves single-partition runs,
    single-run backfills of a range and the check-only verify jobs launched with a `dagster/partition` tag."""
    tags = context.run.tags
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    if "dagster/asset_partition_range_start" in tags:
        return partitions_def.get_partition_keys_in_range(
            dg.PartitionKeyRange(
                tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]
            )
        )
    raise dg.Failure(f"these checks need {what}: run them with a partition")


def latest_materialization_metadata(
    context: dg.AssetCheckExecutionContext,
    key: dg.AssetKey,
    partition: str,
) -> Mapping[str, Any] | None:
    """Metadata of the newest materialization of one partition of `key`, from the run history."""
    result = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    )
    return result.records[0].asset_materialization.metadata if result.records else None


def log_partition_evaluations(
    context: dg.AssetCheckExecutionContext,
    *,
    asset_key: dg.AssetKey,
    check_name: str,
    problems_by_partition: Mapping[str, Sequence[str]],
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> None:
    """One check evaluation per partition, when the run is not a single-partition run.

    A single-run backfill (of a range, or of one partition launched as a backfill) yields one result per check
    for the whole run, which Dagster records without a partition, so the UI's partition view would show those
    partitions unchecked. The run-level result stays (it is what blocks the run); these add each partition's
    own status beside it."""
    if context.op_execution_context.has_partition_key:
        return  # Dagster records the partition with the result itself
    for partition, problems in problems_by_partition.items():
        # The evaluation names the materialization it checked, or the UI counts it as stale ("missing").
        latest = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
        ).records
        target = (
            AssetCheckEvaluationTargetMaterializationData(
                storage_id=latest[0].storage_id,
                run_id=latest[0].run_id,
                timestamp=latest[0].timestamp,
            )
            if latest
            else None
        )
        context.op_execution_context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=asset_key,
                check_name=check_name,
                passed=not problems,
                severity=severity,
                description="; ".join(problems) or None,
                partition=partition,
                target_materialization_data=target,
            )
        )
