"""Download a month of the billing archive and verify it (no Dagster import).

All files (and the manifest) land in a hidden staging folder inside the destination first; only when every
file matches its manifest entry (bytes, SHA-256, Parquet rows) are they moved into place. A failed fetch leaves
nothing behind, and a fetched folder is always complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from usage_archive.archive.store import ArchiveStore, ArchiveStoreError, sha256_file
from usage_archive.export.manifest import MANIFEST_NAME
from usage_archive.export.month import manifest_key, parse_period, read_manifest
from usage_archive.export.parquet_export import parquet_row_count
from usage_archive.export.verify import entry_key
from usage_archive.governance.restore import IN_PROGRESS, READABLE, object_state


class FetchError(RuntimeError):
    """The month cannot be fetched as a whole (not restored yet, missing, or not matching its manifest)."""


@dataclass
class FetchedMonth:
    period: str
    directory: Path
    files: list[Path]
    records: int
    bytes: int


def _not_ready(store: ArchiveStore, keys: list[str], period: date) -> list[str]:
    waiting = []
    for key in keys:
        head = store.head(key)
        if head is None:
            raise FetchError(
                f"{key} is listed in the manifest of {period:%Y-%m} but missing from {store.uri()}"
            )
        state = object_state(head)
        if state not in READABLE:
            waiting.append(
                f"{key} ({head.storage_class}, "
                f"{'restore in progress' if state == IN_PROGRESS else 'not restored'})"
            )
    return waiting


def fetch_month(store: ArchiveStore, period: str | date, destination: str | os.PathLike[str]) -> FetchedMonth:
    """Download every file of the month plus its manifest into `destination`, verified."""
    month = parse_period(period)
    waiting = _not_ready(store, [manifest_key(month)], month) if store.exists(manifest_key(month)) else None
    if waiting is None:
        raise FetchError(f"no manifest for {month:%Y-%m} in {store.uri()}: the month is not archived")
    if waiting:
        raise FetchError(
            f"the manifest of {month:%Y-%m} is not readable yet: {waiting[0]}; run "
            f"usage-archive restore --period {month:%Y-%m} and wait for it to complete"
        )
    manifest = read_manifest(store, month)
    assert manifest is not None
    entries = manifest["files"]
    waiting = _not_ready(store, [entry_key(e) for e in entries], month)
    if waiting:
        raise FetchError(
            f"{len(waiting)} of {len(entries)} files of {month:%Y-%m} are not readable yet: "
            + "; ".join(waiting)
            + f". Run usage-archive restore --period {month:%Y-%m} and fetch once it has completed"
        )
    target = Path(destination)
    target.mkdir(parents=True, exist_ok=True)
    names = [entry_key(e).rsplit("/", 1)[-1] for e in entries] + [MANIFEST_NAME]
    clashes = [n for n in names if (target / n).exists()]
    if clashes:
        raise FetchError(f"{target} already holds {', '.join(clashes)}: fetch into an empty folder")
    staging = Path(tempfile.mkdtemp(dir=target, prefix=f".fetch-{month:%Y-%m}-"))
    try:
        problems = []
        for entry, name in zip(entries, names, strict=False):  # names ends with the manifest, not an entry
            key, local = entry_key(entry), staging / name
            try:
                store.download(key, local)
            except ArchiveStoreError as exc:
                raise FetchError(f"downloading {key} failed: {exc}") from None
            size, digest = local.stat().st_size, sha256_file(local)
            if size != int(entry["bytes"]):
                problems.append(f"{key}: {size} bytes, the manifest says {entry['bytes']}")
            if digest != entry["sha256"]:
                problems.append(
                    f"{key}: SHA-256 {digest[:16]}… differs from the manifest's {entry['sha256'][:16]}…"
                )
                continue
            rows = parquet_row_count(local)
            if rows != int(entry["records"]):
                problems.append(f"{key}: {rows} rows, the manifest says {entry['records']}")
        if problems:
            raise FetchError(
                f"{month:%Y-%m} does not match its manifest, nothing was kept: " + "; ".join(problems)
            )
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
        for name in names:
            os.replace(staging / name, target / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return FetchedMonth(
        period=f"{month:%Y-%m}",
        directory=target,
        files=[target / n for n in names[:-1]],
        records=sum(int(e["records"]) for e in entries),
        bytes=sum(int(e["bytes"]) for e in entries),
    )
