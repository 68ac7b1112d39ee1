"""The Usage API export's CSV columns (matched by name, never by position) and its NULL marker."""

from __future__ import annotations

from collections.abc import Sequence

NULL = "\\N"  # how the export writes SQL NULL

# All 48 columns of the export, in CircleCI's order (the merged CSV keeps this order, unknown columns follow).
KNOWN_COLUMNS: tuple[str, ...] = (
    "ORGANIZATION_ID",
    "ORGANIZATION_NAME",
    "ORGANIZATION_CREATED_DATE",
    "PROJECT_ID",
    "PROJECT_NAME",
    "PROJECT_CREATED_DATE",
    "LAST_BUILD_FINISHED_AT",
    "VCS_NAME",
    "VCS_URL",
    "VCS_BRANCH",
    "PIPELINE_ID",
    "PIPELINE_CREATED_AT",
    "PIPELINE_NUMBER",
    "IS_UNREGISTERED_USER",
    "PIPELINE_TRIGGER_SOURCE",
    "PIPELINE_TRIGGER_USER_ID",
    "WORKFLOW_ID",
    "WORKFLOW_NAME",
    "WORKFLOW_FIRST_JOB_QUEUED_AT",
    "WORKFLOW_FIRST_JOB_STARTED_AT",
    "WORKFLOW_STOPPED_AT",
    "IS_WORKFLOW_SUCCESSFUL",
    "JOB_NAME",
    "JOB_RUN_NUMBER",
    "JOB_ID",
    "JOB_RUN_DATE",
    "JOB_RUN_QUEUED_AT",
    "JOB_RUN_STARTED_AT",
    "JOB_RUN_STOPPED_AT",
    "JOB_BUILD_STATUS",
    "RESOURCE_CLASS",
    "OPERATING_SYSTEM",
    "EXECUTOR",
    "PARALLELISM",
    "JOB_RUN_SECONDS",
    "MEDIAN_CPU_UTILIZATION_PCT",
    "MAX_CPU_UTILIZATION_PCT",
    "MEDIAN_RAM_UTILIZATION_PCT",
    "MAX_RAM_UTILIZATION_PCT",
    "COMPUTE_CREDITS",
    "DLC_CREDITS",
    "USER_CREDITS",
    "STORAGE_CREDITS",
    "NETWORK_CREDITS",
    "LEASE_CREDITS",
    "LEASE_OVERAGE_CREDITS",
    "IPRANGES_CREDITS",
    "TOTAL_CREDITS",
)

# What the archive cannot do without: the hierarchy's keys, the week a row belongs to, and the credit total.
# Other known columns may disappear in a future export format; they then come out as null.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "ORGANIZATION_ID",
    "PROJECT_ID",
    "PROJECT_NAME",
    "PIPELINE_ID",
    "PIPELINE_NUMBER",
    "PIPELINE_CREATED_AT",
    "WORKFLOW_ID",
    "WORKFLOW_NAME",
    "JOB_NAME",
    "JOB_ID",
    "JOB_RUN_DATE",
    "TOTAL_CREDITS",
)

CREDITS_SUFFIX = "_CREDITS"

# How each typed column is read (every other column is text). Dates and timestamps share one rule: CircleCI
# writes `*_CREATED_DATE` and `JOB_RUN_DATE` as dates, the other columns as timestamps.
TIMESTAMP_COLUMNS: frozenset[str] = frozenset(
    {
        "ORGANIZATION_CREATED_DATE",
        "PROJECT_CREATED_DATE",
        "LAST_BUILD_FINISHED_AT",
        "PIPELINE_CREATED_AT",
        "WORKFLOW_FIRST_JOB_QUEUED_AT",
        "WORKFLOW_FIRST_JOB_STARTED_AT",
        "WORKFLOW_STOPPED_AT",
        "JOB_RUN_DATE",
        "JOB_RUN_QUEUED_AT",
        "JOB_RUN_STARTED_AT",
        "JOB_RUN_STOPPED_AT",
    }
)
NUMBER_COLUMNS: frozenset[str] = frozenset(
    {
        "PIPELINE_NUMBER",
        "JOB_RUN_NUMBER",
        "PARALLELISM",
        "JOB_RUN_SECONDS",
        "MEDIAN_CPU_UTILIZATION_PCT",
        "MAX_CPU_UTILIZATION_PCT",
        "MEDIAN_RAM_UTILIZATION_PCT",
        "MAX_RAM_UTILIZATION_PCT",
    }
)
BOOLEAN_COLUMNS: frozenset[str] = frozenset({"IS_UNREGISTERED_USER", "IS_WORKFLOW_SUCCESSFUL"})


def value_kind(column: str) -> str:
    """ "timestamp", "number", "boolean", "credit" or "text"."""
    if column.endswith(CREDITS_SUFFIX):
        return "credit"
    if column in TIMESTAMP_COLUMNS:
        return "timestamp"
    if column in NUMBER_COLUMNS:
        return "number"
    if column in BOOLEAN_COLUMNS:
        return "boolean"
    return "text"


class UsageExportFormatError(ValueError):
    """The CSV is not a usage export we can read; the message names the file and the problem."""


class MissingColumnsError(UsageExportFormatError):
    def __init__(self, source: str, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        super().__init__(
            f"{source} is missing required column(s) {', '.join(self.missing)} "
            "(a CircleCI usage export has ORGANIZATION_ID, PIPELINE_ID, WORKFLOW_ID, JOB_ID, TOTAL_CREDITS, …)"
        )


def validate_header(header: Sequence[str], source: str) -> list[str]:
    """The header with surrounding whitespace and a UTF-8 BOM removed; refuses empty, duplicate or missing
    required columns."""
    names = [h.strip().lstrip("\ufeff").strip() for h in header]
    if not names or names == [""]:
        raise UsageExportFormatError(f"{source} has no header row")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageExportFormatError(f"{source} repeats column(s) {', '.join(duplicates)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise MissingColumnsError(source, missing)
    return names


def output_columns(headers: Sequence[Sequence[str]]) -> list[str]:
    """The merged file's columns: known columns in CircleCI's order (those present in any part), then unknown
    columns in the order they were first seen."""
    seen = {n for h in headers for n in h}
    known = [c for c in KNOWN_COLUMNS if c in seen]
    extra: list[str] = []
    for header in headers:
        extra += [n for n in header if n not in KNOWN_COLUMNS and n not in extra]
    return known + extra


def credit_columns(columns: Sequence[str]) -> list[str]:
    """Every `*_CREDITS` column, including ones CircleCI adds later."""
    return [c for c in columns if c.endswith(CREDITS_SUFFIX)]


def credit_name(column: str) -> str:
    """COMPUTE_CREDITS → compute (the key inside a `credits` object)."""
    return column[: -len(CREDITS_SUFFIX)].lower()
