"""Import of existing exports: a `.csv` or `.csv.gz` usage export put in the CircleCI `incoming/` folder (for
instance one downloaded from CircleCI's web app) is archived as the week(s) it covers and moved to `imported/`
(both named in archive/layout.py). A file that is not a usage export is left in place with a
`<name>.rejected.txt` note next to it that says why. No Dagster import: the sensor and the demo call this.

Rows go to the week of their JOB_RUN_DATE (Monday-based, UTC). When a week is already archived, the imported
rows are merged into it, and a job already present (same JOB_ID) is not added twice, so importing the same
file again changes nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import BinaryIO

from usage_archive.archive.layout import (
    CIRCLECI_INCOMING_PREFIX,
    REJECTED_SUFFIX,
    CircleCILayout,
    circleci_imported_key,
    rejection_note_key,
)
from usage_archive.archive.store import ArchiveStore, StoredObject
from usage_archive.circleci.columns import NULL, UsageExportFormatError
from usage_archive.circleci.dialect import records, records_of_width
from usage_archive.circleci.manifest import write_csv_manifest
from usage_archive.circleci.merge import GZIP_ERRORS, merge_parts, open_part, read_head
from usage_archive.circleci.verify import count_csv_records
from usage_archive.periods import Week

DATE_COLUMNS = ("JOB_RUN_DATE", "JOB_RUN_STARTED_AT", "JOB_RUN_QUEUED_AT", "PIPELINE_CREATED_AT")


class NotAUsageExport(ValueError):
    """The incoming file cannot be archived; the message is the reason written next to it."""


@dataclass(frozen=True)
class ImportedWeek:
    org_id: str
    week: Week
    csv_key: str
    rows_in_file: int
    stored: StoredObject


@dataclass
class ImportResult:
    source_key: str
    moved_to: str
    weeks: list[ImportedWeek] = field(default_factory=list)


def incoming_files(store: ArchiveStore) -> Iterator[StoredObject]:
    """What waits in incoming/ (rejection notes excluded)."""
    for item in store.list(f"{CIRCLECI_INCOMING_PREFIX}/"):
        if not item.key.endswith(REJECTED_SUFFIX):
            yield item


def _row_week(row: list[str], positions: list[int], line: int, source: str) -> Week:
    for column, index in zip(DATE_COLUMNS, positions, strict=False):
        if index < 0:
            continue
        value = row[index].strip()
        if value and value != NULL:
            try:
                return Week.containing(date.fromisoformat(value[:10]))
            except ValueError:
                raise NotAUsageExport(f"{source} line {line}: {column} {value!r} is not a date") from None
    raise NotAUsageExport(
        f"{source} line {line} has no JOB_RUN_DATE (nor any other date) to place it in a week"
    )


def split_by_week(path: Path, source: str, workdir: Path) -> dict[tuple[str, Week], tuple[Path, int]]:
    """Write the file's records into one CSV per (organisation, week) under `workdir`, each record as the
    export wrote it, under the export's own header line."""
    try:
        head = read_head(path, source)
    except UsageExportFormatError as exc:
        raise NotAUsageExport(str(exc)) from None
    if head is None:
        raise NotAUsageExport(f"{source} is empty")
    position = {c: i for i, c in enumerate(head.columns)}
    dates = [position.get(c, -1) for c in DATE_COLUMNS]
    org_at = position["ORGANIZATION_ID"]
    slices: dict[tuple[str, Week], tuple[Path, int]] = {}
    handles: dict[tuple[str, Week], BinaryIO] = {}
    try:
        with open_part(path) as fh:
            reader = records(fh, source)
            next(reader)
            for record in records_of_width(reader, len(head.columns), source):
                slot = (record.fields[org_at].strip(), _row_week(record.fields, dates, record.line, source))
                handle = handles.get(slot)
                if handle is None:
                    target = workdir / f"slice-{len(handles):04d}.csv"
                    handle = handles[slot] = open(target, "wb")  # noqa: SIM115 (closed in finally)
                    handle.write(head.line)
                    slices[slot] = (target, 0)
                handle.write(record.raw.encode())
                slices[slot] = (slices[slot][0], slices[slot][1] + 1)
    except UsageExportFormatError as exc:
        raise NotAUsageExport(str(exc)) from None
    except (OSError, *GZIP_ERRORS) as exc:
        raise NotAUsageExport(f"{source} is not a readable CSV: {type(exc).__name__}: {exc}") from None
    finally:
        for handle in handles.values():
            handle.close()
    if not slices:
        raise NotAUsageExport(f"{source} has a header but no rows")
    return slices


def import_export(
    store: ArchiveStore,
    key: str,
    layout: CircleCILayout,
    *,
    log: Callable[[str], None] = lambda m: None,
    now: datetime | None = None,
) -> ImportResult:
    """Archive one incoming export as the week(s) it covers, then move it to imported/.

    Raises NotAUsageExport (and leaves the file where it is) when it cannot be archived."""
    name = key.rsplit("/", 1)[-1]
    if not name.lower().endswith((".csv", ".csv.gz")):
        raise NotAUsageExport(
            f"{name} is neither .csv nor .csv.gz: only CircleCI usage exports are imported here"
        )
    with tempfile.TemporaryDirectory(prefix="circleci-import-") as tmp:
        workdir = Path(tmp)
        local = workdir / "incoming"
        store.download(key, local)
        slices = split_by_week(local, name, workdir)
        orgs = sorted({org for org, _ in slices})
        refused = [org for org in orgs if not layout.accepts(org)]
        if refused:
            raise NotAUsageExport(
                f"{name} holds usage of organisation(s) {', '.join(refused)}, which CIRCLECI_ORG_ID "
                f"({', '.join(layout.org_ids)}) does not list"
            )
        if len(orgs) > 1 and not layout.per_org_folders:
            raise NotAUsageExport(
                f"{name} holds usage of several organisations ({', '.join(orgs)}): list them in CIRCLECI_ORG_ID "
                "so that each gets its own folder"
            )
        result = ImportResult(source_key=key, moved_to="")
        # Every week is merged (and so checked) before any is stored: a file refused stores nothing.
        merges = []
        for (org_id, week), (slice_path, rows) in sorted(
            slices.items(), key=lambda item: (item[0][1], item[0][0])
        ):
            csv_key = layout.csv_key(org_id, week)
            sources, names = [slice_path], [f"{name} (week {week})"]
            if store.exists(csv_key):
                existing = workdir / f"existing-{org_id}-{week}.csv"
                store.download(csv_key, existing)
                sources, names = [existing, slice_path], [csv_key, *names]
            merged = workdir / f"merged-{org_id}-{week}.csv"
            try:
                merge = merge_parts(sources, merged, dedupe=True, names=names)
            except UsageExportFormatError as exc:
                raise NotAUsageExport(str(exc)) from None
            merges.append((org_id, week, csv_key, rows, merged, merge, len(sources) > 1))
        for org_id, week, csv_key, rows, merged, merge, existed in merges:
            stored = store.put_file(csv_key, merged, content_type="text/csv")
            # The week's manifest, after its CSV: this file added to what the week came from (manifest.py).
            at = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
            imported = {"imports": [{"file": name, "rows": rows, "imported_at": at}]}
            write_csv_manifest(
                store,
                layout,
                org_id,
                week,
                stored,
                count_csv_records(merged),
                imported,
                keep_earlier=existed,
            )
            log(
                f"archived {rows} row(s) of {name} as {org_id} week {week} at {csv_key} "
                f"({merge.rows} rows, {merge.duplicates_dropped} already present)"
            )
            result.weeks.append(
                ImportedWeek(org_id=org_id, week=week, csv_key=csv_key, rows_in_file=rows, stored=stored)
            )
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    result.moved_to = circleci_imported_key(f"{stamp}-{name}")
    copies = 1
    while store.exists(result.moved_to):  # the same name imported twice within a second: keep both
        copies += 1
        result.moved_to = circleci_imported_key(f"{stamp}-{copies}-{name}")
    store.copy(key, result.moved_to)
    store.delete(key)
    if store.exists(rejection_note_key(key)):
        store.delete(rejection_note_key(key))
    log(f"moved {key} to {result.moved_to}")
    return result


def reject(store: ArchiveStore, key: str, reason: str) -> str:
    """Leave the file in place and write why it was not imported next to it."""
    note = rejection_note_key(key)
    store.put_bytes(note, (reason + "\n").encode(), content_type="text/plain", storage_class="STANDARD")
    return note
