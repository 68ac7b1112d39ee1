"""A weekly partition (weeks start Monday 00:00 UTC) and the object keys that belong to it."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

ARCHIVE_PREFIX = "github-actions-usage"
PROGRESS_PREFIX = f"{ARCHIVE_PREFIX}/.progress"


class WeekError(ValueError):
    """A partition key that is not a Monday in YYYY-MM-DD form."""


def parse_week(partition_key: str) -> date:
    """The Monday a weekly partition key names."""
    try:
        monday = date.fromisoformat(partition_key)
    except (TypeError, ValueError):
        raise WeekError(f"bad week partition {partition_key!r}: expected the Monday as YYYY-MM-DD") from None
    if monday.weekday() != 0:
        raise WeekError(f"bad week partition {partition_key!r}: {monday:%A} is not a Monday")
    return monday


def week_bounds(partition_key: str) -> tuple[datetime, datetime]:
    """[Monday 00:00 UTC, next Monday 00:00 UTC)."""
    start = datetime.combine(parse_week(partition_key), datetime.min.time(), tzinfo=timezone.utc)
    return start, start + timedelta(days=7)


def archive_key(partition_key: str) -> str:
    """`github-actions-usage/workflow-runs-<Monday>-to-<next Monday>.parquet` (the SPEC's layout)."""
    monday = parse_week(partition_key)
    return (
        f"{ARCHIVE_PREFIX}/workflow-runs-{monday:%Y-%m-%d}-to-{monday + timedelta(days=7):%Y-%m-%d}.parquet"
    )


def progress_prefix(partition_key: str) -> str:
    """Where a week's per-repository progress lives until the final file is stored."""
    return f"{PROGRESS_PREFIX}/{parse_week(partition_key):%Y-%m-%d}/"


def progress_key(partition_key: str, repository: str, *, partial: bool = False) -> str:
    """A finished repository's progress (`done/`), or a repository part-way through its runs (`partial/`)."""
    owner, name = repository.split("/", 1)
    return f"{progress_prefix(partition_key)}{'partial' if partial else 'done'}/{owner}/{name}.parquet"
