"""Where the archive's plain functions meet Dagster, in one place: an expected error becomes a `dg.Failure`, a
list of problems becomes an `AssetCheckResult`, and both shorten long descriptions by the same rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,  # not exported at the top level in 1.13
)

# The checks every manifest-backed asset carries (billing tables, CircleCI's CSV and JSON, GitHub Actions' runs):
# each stored object against its manifest entry.
ROW_COUNT_MATCHES_MANIFEST = "row_count_matches_manifest"
CHECKSUM_MATCHES_MANIFEST = "checksum_matches_manifest"

# The longest failure or check description we write. Longer lists end with "… and N more"; the count of
# problems is always complete (in the text and in the check's metadata).
DESCRIPTION_LIMIT = 2000


def describe_problems(problems: Sequence[str], limit: int = DESCRIPTION_LIMIT) -> str | None:
    """The problems joined by "; ", cut after the last whole problem that fits in `limit` characters and
    saying how many were left out; None when there is no problem."""
    if not problems:
        return None
    text = "; ".join(problems)
    if len(text) <= limit:
        return text
    shown = 0
    length = 0
    for problem in problems:
        added = len(problem) + (2 if shown else 0)
        if length + added + len(f" … and {len(problems) - shown - 1} more") > limit:
            break
        length += added
        shown += 1
    if shown == 0:  # the first problem alone is too long: cut inside it
        tail = f" … and {len(problems) - 1} more" if len(problems) > 1 else ""
        return problems[0][: limit - len(tail) - 1] + "…" + tail
    return "; ".join(problems[:shown]) + f" … and {len(problems) - shown} more"


def as_failure(exc: Exception, retryable: tuple[type[Exception], ...] = ()) -> dg.Failure:
    """The `dg.Failure` for an expected error: its type and message (which never hold a secret), and whether a
    retry may help (rate limits, an export not ready yet) or a fix is needed first."""
    return dg.Failure(
        description=describe_problems([f"{type(exc).__name__}: {exc}"]),
        allow_retries=isinstance(exc, retryable),
    )


def check_result(
    asset_key: dg.AssetKey,
    check_name: str,
    problems: Sequence[str],
    *,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    metadata: Mapping[str, Any] | None = None,
) -> dg.AssetCheckResult:
    """Passed when there is no problem; otherwise the problems are the description."""
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=not problems,
        severity=severity,
        description=describe_problems(problems),
        metadata={**(metadata or {}), "problems": len(problems)},
    )


def manifest_check_specs(
    asset_key: dg.AssetKey, partitions_def: dg.PartitionsDefinition | None, what: str
) -> list[dg.AssetCheckSpec]:
    """The two blocking checks of an object listed in its period's manifest (`what` names the object)."""
    return [
        dg.AssetCheckSpec(
            ROW_COUNT_MATCHES_MANIFEST,
            asset=asset_key,
            blocking=True,
            partitions_def=partitions_def,
            description=f"the stored {what}'s record count = its manifest entry's",
        ),
        dg.AssetCheckSpec(
            CHECKSUM_MATCHES_MANIFEST,
            asset=asset_key,
            blocking=True,
            partitions_def=partitions_def,
            description=f"the stored {what}'s bytes and SHA-256 = its manifest entry's (the manifest exists, "
            "lists it, and was written after it)",
        ),
    ]


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
                description=describe_problems(problems),
                partition=partition,
                target_materialization_data=target,
            )
        )


def partitioned_check_result(
    context: dg.AssetCheckExecutionContext,
    asset_key: dg.AssetKey,
    check_name: str,
    problems_by_partition: Mapping[str, Sequence[str]],
    *,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    metadata: Mapping[str, Any] | None = None,
) -> dg.AssetCheckResult:
    """The run's result over every partition it covers (each problem prefixed with its partition), after
    recording each partition's own evaluation where Dagster would not (`log_partition_evaluations`)."""
    log_partition_evaluations(
        context,
        asset_key=asset_key,
        check_name=check_name,
        problems_by_partition=problems_by_partition,
        severity=severity,
    )
    problems = [f"{key}: {p}" for key, found in problems_by_partition.items() for p in found]
    return check_result(asset_key, check_name, problems, severity=severity, metadata=metadata)
