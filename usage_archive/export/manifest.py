"""Manifests: what an archived period holds, written after every object it lists.

- The month manifest (billing): the version 1.0 fields (archive_version, created_at, period, files[table, records,
  s3_key], schema_version, retention_years, compliance) plus per-file sha256, bytes, columns and codec, and the
  snapshot. docs/billing.md describes every field.
- The week manifest (CircleCI per organisation, GitHub Actions): the same file entries (table, path, s3_key,
  bytes, sha256, records, with the format and what a record is), the week, and where the data came from (the
  CircleCI export jobs and their windows or the imported files; the GitHub API window and repositories).
  docs/operations.md describes it.

Both are read by `parse_manifest` and checked against the store by `export/verify.py`."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from usage_archive.archive.store import ArchiveStore, ObjectNotFound, StoredObject
from usage_archive.export.snapshot import SnapshotInfo
from usage_archive.periods import Month, Week

ARCHIVE_VERSION = "2.0"  # 1.0 had no checksums; 2.0 adds sha256, bytes, columns, codec and snapshot
RETENTION_YEARS = 10
COMPLIANCE = ["EU_AI_Act", "Financial_Audit"]
REQUIRED_FILE_FIELDS = ("table", "records", "s3_key", "sha256", "bytes")


class ManifestError(ValueError):
    """A manifest that cannot be trusted: unreadable, or missing required fields."""


def build_manifest(
    *,
    period: Month,
    snapshot: SnapshotInfo,
    files: list[dict[str, Any]],
    codec: str,
    schema_version: str,
    run_id: str | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    created = (created_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return {
        "archive_version": ARCHIVE_VERSION,
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "period": f"{period:%Y-%m}",
        "files": files,
        "schema_version": schema_version,
        "retention_years": RETENTION_YEARS,
        "compliance": COMPLIANCE,
        "codec": codec,
        "snapshot": {
            **snapshot.as_dict(),
            "method": "all files read in one REPEATABLE READ READ ONLY transaction",
        },
        "totals": {
            "files": len(files),
            "records": sum(f["records"] for f in files),
            "bytes": sum(f["bytes"] for f in files),
        },
        "generator": {"name": "usage_archive", "dagster_run_id": run_id},
    }


def format_manifest(manifest: dict[str, Any]) -> str:
    """Indented JSON with one line per column, for people and for the stored object alike."""
    text = json.dumps(manifest, indent=2, ensure_ascii=False)
    return re.sub(
        r'\{\s+"name": ("[^"]*"),\s+"type": ("[^"]*"),\s+"nullable": (true|false)\s+\}',
        r'{"name": \1, "type": \2, "nullable": \3}',
        text,
    )


def parse_manifest(data: bytes | str) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise ManifestError("manifest has no 'files' list")
    for index, entry in enumerate(manifest["files"]):
        missing = [f for f in REQUIRED_FILE_FIELDS if f not in entry]
        if missing:
            raise ManifestError(
                f"manifest file #{index} ({entry.get('table', '?')}) lacks {', '.join(missing)}"
            )
    return manifest


def file_entry(manifest: dict[str, Any], table: str) -> dict[str, Any] | None:
    return next((f for f in manifest["files"] if f["table"] == table), None)


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def stored_file_entry(
    store: ArchiveStore, stored: StoredObject, *, table: str, records: int, file_format: str, unit: str
) -> dict[str, Any]:
    """A week manifest's entry for one stored object (the fields every manifest file entry has, and more)."""
    if stored.sha256 is None:
        raise ManifestError(f"{stored.key} was stored without a SHA-256: it cannot be listed in a manifest")
    return {
        "table": table,
        "path": stored.key,
        "s3_key": store.object_key(stored.key),
        "bytes": stored.bytes,
        "sha256": stored.sha256,
        "records": records,
        "records_are": unit,
        "format": file_format,
    }


def build_week_manifest(
    *,
    source: str,
    week: Week,
    files: list[dict[str, Any]],
    provenance: dict[str, Any],
    organization_id: str | None = None,
    run_id: str | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "archive_version": ARCHIVE_VERSION,
        "source": source,
        "created_at": _utc_text(created_at or datetime.now(timezone.utc)),
        "period": {"week": week.key, "start": _utc_text(week.start), "end": _utc_text(week.end)},
    }
    if organization_id is not None:
        manifest["organization_id"] = organization_id
    manifest.update(
        {
            "files": files,
            "provenance": provenance,
            "totals": {
                "files": len(files),
                "records": sum(f["records"] for f in files),
                "bytes": sum(f["bytes"] for f in files),
            },
            "generator": {"name": "usage_archive", "dagster_run_id": run_id},
        }
    )
    return manifest


def read_manifest_at(store: ArchiveStore, key: str) -> dict[str, Any] | None:
    """The manifest stored at `key`, or None when there is none; ManifestError when it cannot be trusted."""
    try:
        return parse_manifest(store.get_bytes(key))
    except ObjectNotFound:
        return None


def write_manifest_at(store: ArchiveStore, key: str, manifest: dict[str, Any]) -> StoredObject:
    """Store a manifest (call it after every object it lists is stored)."""
    return store.put_bytes(key, format_manifest(manifest).encode(), content_type="application/json")
