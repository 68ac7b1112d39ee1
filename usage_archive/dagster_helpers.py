"""Small Dagster helpers shared by the sources' checks."""

from collections.abc import Mapping
from typing import Any

import dagster as dg


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
