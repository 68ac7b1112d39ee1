"""Re-read stored archive objects and compare them with their manifest (no Dagster import).

Used by the Dagster asset checks and by `usage-archive verify`; objects in Glacier tiers are reported as such
instead of failing, since reading them needs a restore first.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from usage_archive.archive.store import ArchiveStore, ArchiveStoreError, sha256_file
from usage_archive.export.parquet_export import parquet_row_count

# missing/unreadable objects break both the row-count and the checksum check
PROBLEM_KINDS = ("missing", "store", "bytes", "sha256", "rows", "unreadable")
ROW_PROBLEMS = ("missing", "store", "rows", "unreadable")
CHECKSUM_PROBLEMS = ("missing", "store", "bytes", "sha256")


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
    findings: list[tuple[str, str]] = field(default_factory=list)  # (kind, message); kinds in PROBLEM_KINDS

    def add(self, kind: str, message: str) -> None:
        assert kind in PROBLEM_KINDS, kind
        self.findings.append((kind, message))

    @property
    def problems(self) -> list[str]:
        return [message for _kind, message in self.findings]

    def problems_of(self, *kinds: str) -> list[str]:
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


def verify_file(
    store: ArchiveStore, entry: dict[str, Any], workdir: str | Path | None = None
) -> FileVerification:
    """Check one manifest entry against the stored object: size, SHA-256, Parquet row count."""
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
        result.add("store", str(exc))
        return result
    if head is None:
        result.add("missing", f"{key} is missing from the archive")
        return result
    result.stored_bytes, result.storage_class = head.bytes, head.storage_class
    if head.bytes != result.expected_bytes:
        result.add("bytes", f"{key} holds {head.bytes} bytes, the manifest says {result.expected_bytes}")
    if head.needs_restore:
        result.needs_restore = True  # size known; content cannot be read until restored
        return result
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        local = Path(tmp) / "object"
        try:
            store.download(key, local)
        except ArchiveStoreError as exc:
            result.add("store", str(exc))
            return result
        result.sha256 = sha256_file(local)
        if result.sha256 != result.expected_sha256:
            result.add(
                "sha256",
                f"{key} SHA-256 {result.sha256[:16]}… differs from the manifest's "
                f"{result.expected_sha256[:16]}…",
            )
        try:
            result.parquet_records = parquet_row_count(local)
        except Exception as exc:  # a corrupted object is a finding, not a crash
            result.add("unreadable", f"{key} is not a readable Parquet file: {type(exc).__name__}: {exc}")
            return result
    if result.parquet_records != result.expected_records:
        result.add(
            "rows", f"{key} has {result.parquet_records} rows, the manifest says {result.expected_records}"
        )
    return result
