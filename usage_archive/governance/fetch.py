"""Download an archived period and verify it (no Dagster import): a billing month, or a week of CircleCI (per
organisation) or GitHub Actions (`governance.targets.ArchivedPeriod`).

All files (and the manifest) land in a hidden staging folder inside the destination first; only when every
file matches its manifest entry (bytes, SHA-256, rows by the entry's format) are they moved into place. A failed
fetch leaves nothing behind, and a fetched folder is always complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from usage_archive.archive.store import ArchiveStore, ArchiveStoreError, sha256_file
from usage_archive.export.manifest import read_manifest_at
from usage_archive.export.verify import entry_key, row_counter
from usage_archive.governance.restore import (
    IN_PROGRESS,
    READABLE,
    Period,
    as_target,
    cli_arguments,
    object_state,
)
from usage_archive.governance.targets import ArchivedPeriod


class FetchError(RuntimeError):
    """The period cannot be fetched as a whole (not restored yet, missing, or not matching its manifest)."""


@dataclass
class FetchedPeriod:
    period: str
    directory: Path
    files: list[Path]
    records: int
    bytes: int


def _not_ready(store: ArchiveStore, keys: list[str], target: ArchivedPeriod) -> list[str]:
    waiting = []
    for key in keys:
        head = store.head(key)
        if head is None:
            raise FetchError(
                f"{key} is listed in the manifest of {target.label} but missing from {store.uri()}"
            )
        state = object_state(head)
        if state not in READABLE:
            waiting.append(
                f"{key} ({head.storage_class}, "
                f"{'restore in progress' if state == IN_PROGRESS else 'not restored'})"
            )
    return waiting


def fetch_month(store: ArchiveStore, period: Period, destination: str | os.PathLike[str]) -> FetchedPeriod:
    """Download every file of the period (a billing month unless an ArchivedPeriod says otherwise) plus its
    manifest into `destination`, verified."""
    return fetch_period(store, as_target(period), destination)


def fetch_period(
    store: ArchiveStore, target: ArchivedPeriod, destination: str | os.PathLike[str]
) -> FetchedPeriod:
    """Download every file of the period plus its manifest into `destination`, verified."""
    manifest_key = target.manifest_key
    label, again = target.label, cli_arguments(target)
    waiting = _not_ready(store, [manifest_key], target) if store.exists(manifest_key) else None
    if waiting is None:
        raise FetchError(f"no manifest for {label} in {store.uri()}: the period is not archived")
    if waiting:
        raise FetchError(
            f"the manifest of {label} is not readable yet: {waiting[0]}; run "
            f"usage-archive restore {again} and wait for it to complete"
        )
    manifest = read_manifest_at(store, manifest_key)
    assert manifest is not None
    entries = manifest["files"]
    waiting = _not_ready(store, [entry_key(e) for e in entries], target)
    if waiting:
        raise FetchError(
            f"{len(waiting)} of {len(entries)} files of {label} are not readable yet: "
            + "; ".join(waiting)
            + f". Run usage-archive restore {again} and fetch once it has completed"
        )
    target_dir = Path(destination)
    target_dir.mkdir(parents=True, exist_ok=True)
    names = [entry_key(e).rsplit("/", 1)[-1] for e in entries] + [manifest_key.rsplit("/", 1)[-1]]
    clashes = [n for n in names if (target_dir / n).exists()]
    if clashes:
        raise FetchError(f"{target_dir} already holds {', '.join(clashes)}: fetch into an empty folder")
    staging = Path(tempfile.mkdtemp(dir=target_dir, prefix=".fetch-"))
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
            rows = row_counter(entry)(local)
            if rows != int(entry["records"]):
                unit = entry.get("records_are") or "rows"
                problems.append(f"{key}: {rows} {unit}, the manifest says {entry['records']}")
        if problems:
            raise FetchError(f"{label} does not match its manifest, nothing was kept: " + "; ".join(problems))
        (staging / names[-1]).write_text(json.dumps(manifest, indent=2))
        for name in names:
            os.replace(staging / name, target_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return FetchedPeriod(
        period=label,
        directory=target_dir,
        files=[target_dir / n for n in names[:-1]],
        records=sum(int(e["records"]) for e in entries),
        bytes=sum(int(e["bytes"]) for e in entries),
    )


FetchedMonth = FetchedPeriod  # the name from when only billing months were fetched
