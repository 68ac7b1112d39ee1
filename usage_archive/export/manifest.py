"""The month manifest: the seed's fields (archive_version, created_at, period, files[table, records, s3_key],
schema_version, retention_years, compliance) plus per-file sha256, bytes, columns and codec, and the snapshot."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from typing import Any

from usage_archive.export.snapshot import SnapshotInfo

MANIFEST_NAME = "manifest.json"
ARCHIVE_VERSION = "2.0"  # 1.0 was the seed script's; 2.0 adds sha256, bytes, columns, codec and snapshot
RETENTION_YEARS = 10
COMPLIANCE = ["EU_AI_Act", "Financial_Audit"]
REQUIRED_FILE_FIELDS = ("table", "records", "s3_key", "sha256", "bytes")


class ManifestError(ValueError):
    """A manifest that cannot be trusted: unreadable, or missing required fields."""


def build_manifest(
    *,
    period: date,
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
