"""Where the archive's plain functions meet Dagster, in one place: an expected error becomes a `dg.Failure`, a
list of problems becomes an `AssetCheckResult`, and both shorten long descriptions by the same rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

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
