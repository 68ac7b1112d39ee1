"""Re-read stored archive objects and compare them with their manifest (no Dagster import).

Used by the Dagster asset checks and by `usage-archive verify`, for every source: billing months (Parquet) and the
weeks of CircleCI (CSV, hierarchical JSON) and GitHub Actions (Parquet). Rows are counted by each entry's format
(`row_counter`). Objects in Glacier tiers are reported as such instead of failing, since reading them needs a
restore first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from usage_archive.archive.store import ArchiveStore, ArchiveStoreError, sha256_file
from usage_archive.export.parquet_export import parquet_row_count

RowCounter = Callable[[Path], int]


class Finding(Enum):
    """What kind of mismatch a verification found; the checks choose their findings by kind."""

    MISSING = "missing"  # the object is not in the archive
    STORE = "store"  # the archive could not be read
    BYTES = "bytes"  # stored size differs from the manifest
    SHA256 = "sha256"  # stored content differs from the manifest
    ROWS = "rows"  # the row count (Parquet rows, CSV records, JSON jobs) differs from the manifest
    UNREADABLE = "unreadable"  # not a readable file of its format


# A missing or unreadable object breaks both the row-count and the checksum check.
ROW_FINDINGS = frozenset({Finding.MISSING, Finding.STORE, Finding.ROWS, Finding.UNREADABLE})
CHECKSUM_FINDINGS = frozenset({Finding.MISSING, Finding.STORE, Finding.BYTES, Finding.SHA256})


@dataclass
class FileVerification:
    table: str
    key: str
    expected_records: int
    expected_bytes: int
    expected_sha256: str
    stored_bytes: int | None = None
    sha256: str | None = None
    parquet_records: int | None = None
    storage_class: str | None = None
    needs_restore: bool = False
    findings: list[tuple[Finding, str]] = field(default_factory=list)  # (kind, message)

    def add(self, kind: Finding, message: str) -> None:
        self.findings.append((kind, message))

    @property
    def problems(self) -> list[str]:
        return [message for _kind, message in self.findings]

    def problems_of(self, kinds: frozenset[Finding]) -> list[str]:
        return [message for kind, message in self.findings if kind in kinds]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def status(self) -> str:
        if self.problems:
            return "MISMATCH"
        return "ARCHIVED (restore to read)" if self.needs_restore else "OK"

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key": self.key,
            "status": self.status,
            "problems": self.problems,
            "records": self.parquet_records,
            "expected_records": self.expected_records,
            "bytes": self.stored_bytes,
            "sha256": self.sha256,
            "storage_class": self.storage_class,
        }


def entry_key(entry: dict[str, Any]) -> str:
    return entry.get("path") or entry["s3_key"]


def entry_format(entry: dict[str, Any]) -> str:
    """The entry's format: named in week manifests, Parquet for billing months (which predate the field)."""
    return str(entry.get("format") or "parquet")


def row_counter(entry: dict[str, Any]) -> RowCounter:
    """How the entry's records are counted: Parquet rows, CSV records (a quoted line break stays inside its
    record), or the jobs of a CircleCI hierarchical JSON."""
    file_format = entry_format(entry)
    if file_format == "parquet":
        return parquet_row_count
    from usage_archive.circleci.verify import count_csv_records, count_json_jobs

    counters: dict[str, RowCounter] = {"csv": count_csv_records, "json": count_json_jobs}
    if file_format not in counters:
        raise ValueError(f"{entry_key(entry)}: the manifest names an unknown format {file_format!r}")
    return counters[file_format]


def verify_file(
    store: ArchiveStore,
    entry: dict[str, Any],
    workdir: str | Path | None = None,
    *,
    local: Path | None = None,
    count_rows: RowCounter | None = None,
) -> FileVerification:
    """Check one manifest entry against the stored object: size, SHA-256, row count. `local` is a copy of the
    object the caller has just downloaded (it is not downloaded again); `count_rows` counts its records when
    the caller already knows how (default: `row_counter`)."""
    key = entry_key(entry)
    result = FileVerification(
        table=entry["table"],
        key=key,
        expected_records=int(entry["records"]),
        expected_bytes=int(entry["bytes"]),
        expected_sha256=entry["sha256"],
    )
    try:
        head = store.head(key)
    except ArchiveStoreError as exc:
        result.add(Finding.STORE, str(exc))
        return result
    if head is None:
        result.add(Finding.MISSING, f"{key} is missing from the archive")
        return result
    result.stored_bytes, result.storage_class = head.bytes, head.storage_class
    if head.bytes != result.expected_bytes:
        result.add(
            Finding.BYTES, f"{key} holds {head.bytes} bytes, the manifest says {result.expected_bytes}"
        )
    if head.needs_restore:
        result.needs_restore = True  # size known; content cannot be read until restored
        return result
    if local is not None:
        _check_copy(result, entry, local, count_rows)
    else:
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            copy = Path(tmp) / "object"
            try:
                store.download(key, copy)
            except ArchiveStoreError as exc:
                result.add(Finding.STORE, str(exc))
                return result
            _check_copy(result, entry, copy, count_rows)
    return result


def _check_copy(
    result: FileVerification, entry: dict[str, Any], local: Path, count_rows: RowCounter | None
) -> None:
    key = result.key
    result.sha256 = sha256_file(local)
    if result.sha256 != result.expected_sha256:
        result.add(
            Finding.SHA256,
            f"{key} SHA-256 {result.sha256[:16]}… differs from the manifest's {result.expected_sha256[:16]}…",
        )
    file_format = entry_format(entry)
    try:
        result.parquet_records = (count_rows or row_counter(entry))(local)
    except Exception as exc:  # a corrupted object is a finding, not a crash
        name = "Parquet" if file_format == "parquet" else file_format.upper()
        result.add(Finding.UNREADABLE, f"{key} is not a readable {name} file: {type(exc).__name__}: {exc}")
        return
    if result.parquet_records != result.expected_records:
        result.add(
            Finding.ROWS,
            f"{key} has {result.parquet_records} {entry.get('records_are') or 'rows'}, the manifest says "
            f"{result.expected_records}",
        )


@dataclass
class ListedFile:
    """One object checked against the entry its period's manifest has for it (`table`)."""

    manifest_key: str
    table: str
    manifest_problem: str | None = (
        None  # no manifest, an unreadable one, or one that does not list the object
    )
    verification: FileVerification | None = None

    def problems_of(self, kinds: frozenset[Finding]) -> list[str]:
        if self.manifest_problem:
            return [self.manifest_problem]
        return self.verification.problems_of(kinds) if self.verification else []

    @property
    def row_problems(self) -> list[str]:
        return self.problems_of(ROW_FINDINGS)

    @property
    def checksum_problems(self) -> list[str]:
        return self.problems_of(CHECKSUM_FINDINGS)

    def summary(self) -> dict[str, Any]:
        v = self.verification
        return {
            "records": v.parquet_records if v else None,
            "manifest_records": v.expected_records if v else None,
            "bytes": v.stored_bytes if v else None,
            "sha256": v.sha256 if v else None,
        }


def verify_listed(
    store: ArchiveStore,
    manifest_key: str,
    table: str,
    *,
    local: Path | None = None,
    count_rows: RowCounter | None = None,
) -> ListedFile:
    """Read the manifest at `manifest_key` and check the object it lists as `table` (see verify_file)."""
    from usage_archive.export.manifest import ManifestError, file_entry, read_manifest_at

    listed = ListedFile(manifest_key, table)
    try:
        manifest = read_manifest_at(store, manifest_key)
    except (ManifestError, ArchiveStoreError) as exc:
        listed.manifest_problem = f"{manifest_key}: the manifest cannot be read: {exc}"
        return listed
    if manifest is None:
        listed.manifest_problem = (
            f"no manifest at {manifest_key}: the period's objects are not proven complete"
        )
        return listed
    entry = file_entry(manifest, table)
    if entry is None:
        listed.manifest_problem = f"{manifest_key} does not list the {table} object"
        return listed
    listed.verification = verify_file(store, entry, local=local, count_rows=count_rows)
    return listed
