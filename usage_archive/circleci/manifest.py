"""A CircleCI week's manifest (`…/usage-data-<week>-manifest.json`, archive/layout.py), per organisation.

It lists each object of the week (key, bytes, SHA-256, records) and where the usage came from: the export jobs
and their windows, or the imported files. It is written in two steps, each time after every object it lists:

1. whatever stores the week's CSV writes it listing the CSV: the Usage API export (`weekly.fetch_week_csv`) with
   its export jobs, an import (`incoming.import_export`) with the imported file, added to what the week already
   came from when the import merged into an archived week;
2. the JSON step (`weekly.archive_week_json`) writes it again listing the CSV and the JSON, after checking that
   the stored CSV is the one the manifest lists (a CSV changed since it was archived stops the step).

So a week always has a manifest that describes exactly what it lists; between the two steps the JSON (if an
earlier one exists) is not listed, and `usage-archive verify` says so. No Dagster import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from usage_archive.archive.layout import CircleCILayout
from usage_archive.archive.store import ArchiveStore, StoredObject, sha256_file
from usage_archive.circleci.verify import count_csv_records
from usage_archive.export.manifest import (
    ManifestError,
    build_week_manifest,
    file_entry,
    read_manifest_at,
    stored_file_entry,
    write_manifest_at,
)
from usage_archive.export.verify import entry_key
from usage_archive.periods import Week

SOURCE = "circleci"
CSV_TABLE = "usage_csv"  # the entries' `table`: the asset each object belongs to
JSON_TABLE = "usage_hierarchical_json"
PROVENANCE_LISTS = ("export_jobs", "imports")
NOT_RECORDED = "the CSV was archived before week manifests were written: where it came from is not recorded"


class WeekManifestError(ValueError):
    """The week's stored CSV is not the one its manifest lists, or the manifest cannot be read."""


def csv_entry(store: ArchiveStore, stored: StoredObject, records: int) -> dict[str, Any]:
    return stored_file_entry(store, stored, table=CSV_TABLE, records=records, file_format="csv", unit="rows")


def _org(org_id: str) -> str | None:
    return org_id or None


def _read(store: ArchiveStore, key: str) -> dict[str, Any] | None:
    try:
        return read_manifest_at(store, key)
    except ManifestError as exc:
        raise WeekManifestError(
            f"{key}: {exc}; run circleci/usage_csv for the week again to archive it afresh"
        ) from None


def write_csv_manifest(
    store: ArchiveStore,
    layout: CircleCILayout,
    org_id: str,
    week: Week,
    stored: StoredObject,
    records: int,
    provenance: dict[str, Any],
    *,
    keep_earlier: bool = False,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Step 1: the week's manifest listing its just-stored CSV. `keep_earlier` adds `provenance` to what the
    earlier manifest recorded (an import merged into an archived week); otherwise it replaces it."""
    key = layout.manifest_key(org_id, week)
    merged: dict[str, Any] = {}
    previous = _read(store, key) if keep_earlier else None
    if previous is not None:
        earlier = previous.get("provenance") or {}
        merged = {name: list(earlier.get(name, [])) for name in PROVENANCE_LISTS if earlier.get(name)}
        if earlier.get("note"):
            merged["note"] = earlier["note"]
    for name, items in provenance.items():
        if name in PROVENANCE_LISTS:
            merged[name] = [*merged.get(name, []), *items]
        else:
            merged[name] = items
    manifest = build_week_manifest(
        source=SOURCE,
        week=week,
        files=[csv_entry(store, stored, records)],
        provenance=merged,
        organization_id=_org(org_id),
        run_id=run_id,
    )
    write_manifest_at(store, key, manifest)
    return manifest


@dataclass(frozen=True)
class ListedCsv:
    """What the JSON step keeps of the week's manifest: the CSV's entry, where the week came from, and the
    organisation (which a flat layout's JSON step does not know by itself)."""

    entry: dict[str, Any]
    provenance: dict[str, Any]
    organization_id: str | None = None


def listed_csv(
    store: ArchiveStore, layout: CircleCILayout, org_id: str, week: Week, csv_local: Path
) -> ListedCsv:
    """The week's manifest as the JSON step finds it, `csv_local` being the stored CSV it just downloaded. A CSV
    that is not the one the manifest lists raises WeekManifestError; a week archived before manifests existed
    gets an entry made from the stored CSV."""
    key = layout.manifest_key(org_id, week)
    csv_key = layout.csv_key(org_id, week)
    previous = _read(store, key)
    entry = file_entry(previous, CSV_TABLE) if previous is not None else None
    if previous is None or entry is None:
        stored = StoredObject(csv_key, csv_local.stat().st_size, sha256_file(csv_local))
        return ListedCsv(csv_entry(store, stored, count_csv_records(csv_local)), {"note": NOT_RECORDED})
    digest, size = sha256_file(csv_local), csv_local.stat().st_size
    if entry_key(entry) != csv_key or entry["sha256"] != digest or int(entry["bytes"]) != size:
        raise WeekManifestError(
            f"{csv_key} is not the CSV its manifest lists ({size} bytes, SHA-256 {digest[:16]}…; the manifest: "
            f"{entry['bytes']} bytes, {str(entry['sha256'])[:16]}…): it changed after it was archived. Run "
            "`usage-archive verify --source circleci` for the week, and circleci/usage_csv again to archive it "
            "afresh"
        )
    return ListedCsv(entry, previous.get("provenance") or {}, previous.get("organization_id"))


def write_week_manifest(
    store: ArchiveStore,
    layout: CircleCILayout,
    org_id: str,
    week: Week,
    csv: ListedCsv,
    json_stored: StoredObject,
    jobs: int,
    *,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Step 2: the manifest listing the CSV (`csv` from `listed_csv`) and the just-stored JSON."""
    manifest = build_week_manifest(
        source=SOURCE,
        week=week,
        files=[
            csv.entry,
            stored_file_entry(
                store, json_stored, table=JSON_TABLE, records=jobs, file_format="json", unit="jobs"
            ),
        ],
        provenance=csv.provenance,
        organization_id=_org(org_id) or csv.organization_id,
        run_id=run_id,
    )
    write_manifest_at(store, layout.manifest_key(org_id, week), manifest)
    return manifest
