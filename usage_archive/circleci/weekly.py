"""One archived week: fetching the week from the Usage API (its export jobs: export_jobs.py), deriving its
hierarchical JSON, and the week's manifest after each (manifest.py). No Dagster import; the assets and the import
path call these functions.

Weeks are `periods.Week` (Monday 00:00 UTC); where their files go is `archive.layout.CircleCILayout`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from usage_archive.archive.layout import CircleCILayout, circleci_export_job_key
from usage_archive.archive.store import ArchiveStore, StoredObject
from usage_archive.circleci.api import UsageApiClient
from usage_archive.circleci.export_jobs import ExportPiece, Log, _quiet, export_window, load_plan
from usage_archive.circleci.hierarchy import HierarchyResult, write_hierarchy
from usage_archive.circleci.manifest import listed_csv, write_csv_manifest, write_week_manifest
from usage_archive.circleci.merge import MergeResult, merge_parts
from usage_archive.circleci.verify import count_csv_records
from usage_archive.github_actions.windows import Window
from usage_archive.periods import Week


def load_export_job(store: ArchiveStore, org_id: str, week: Week) -> dict | None:
    """The week's stored export-job state (export_jobs.ExportPlan as JSON), or None."""
    state = load_plan(store, circleci_export_job_key(org_id, week))
    return state if isinstance(state, dict) else None


@dataclass(frozen=True)
class WeekCsv:
    key: str
    stored: StoredObject
    merge: MergeResult
    jobs: tuple[ExportPiece, ...]  # the export jobs, in window order
    resumed: bool
    parts: int
    records: int = 0  # the CSV's data records, as its manifest lists them

    @property
    def job_ids(self) -> list[str]:
        return [j.job_id for j in self.jobs if j.job_id]

    @property
    def job_id(self) -> str:
        """The export job id (several, comma-separated, when the week took more than one job)."""
        return ", ".join(self.job_ids)


def fetch_week_csv(
    store: ArchiveStore,
    client: UsageApiClient,
    org_id: str,
    week: Week,
    layout: CircleCILayout,
    *,
    now: datetime | None = None,
    log: Log = _quiet,
    run_id: str | None = None,
) -> WeekCsv:
    """Export one week from the Usage API into the archive as one merged CSV.

    The export jobs (export_jobs.py: usually one; two halves, or more, when a result is too large) are stored
    before polling starts, so a retried or restarted run resumes them instead of spending more of the ten POSTs
    an hour. The CSV is stored, then the week's manifest listing it and its export jobs (manifest.py), then the
    job state is removed."""
    state_key = circleci_export_job_key(org_id, week)
    key = layout.csv_key(org_id, week)
    with tempfile.TemporaryDirectory(prefix="circleci-week-") as tmp:
        export = export_window(
            store, client, org_id, Window.half_open(*week.bounds), state_key, Path(tmp), now=now, log=log
        )
        merged = Path(tmp) / "merged.csv"
        result = merge_parts(export.parts, merged, names=export.names)
        records = count_csv_records(merged)
        stored = store.put_file(key, merged, content_type="text/csv")
    provenance = {
        "export_jobs": [
            {"usage_export_job_id": j.job_id, "start": _utc(j.window.start), "end": _utc(j.window.end)}
            for j in export.jobs
        ]
    }
    write_csv_manifest(store, layout, org_id, week, stored, records, provenance, run_id=run_id)
    store.delete(state_key)
    log(f"stored {result.rows} rows from {len(export.parts)} part(s) at {store.uri(key)}")
    return WeekCsv(
        key=key,
        stored=stored,
        merge=result,
        jobs=tuple(export.jobs),
        resumed=export.resumed,
        parts=len(export.parts),
        records=records,
    )


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WeekJson:
    key: str
    stored: StoredObject
    hierarchy: HierarchyResult


def _write_json(source: Path, target: Path, csv_key: str, period: dict[str, str] | None) -> HierarchyResult:
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        return write_hierarchy(source, out, source_name=csv_key.rsplit("/", 1)[-1], period=period)


def build_week_json(
    store: ArchiveStore,
    csv_key: str,
    json_key: str,
    *,
    period: dict[str, str] | None = None,
) -> WeekJson:
    """Read a stored CSV and store its hierarchical JSON (written as a stream to a temporary file, then
    uploaded: a failure leaves no half-written object). No manifest: `archive_week_json` archives a week."""
    with tempfile.TemporaryDirectory(prefix="circleci-json-") as tmp:
        source, target = Path(tmp) / "week.csv", Path(tmp) / "week.json"
        store.download(csv_key, source)
        result = _write_json(source, target, csv_key, period)
        stored = store.put_file(json_key, target, content_type="application/json")
    return WeekJson(key=json_key, stored=stored, hierarchy=result)


def archive_week_json(
    store: ArchiveStore, layout: CircleCILayout, org_id: str, week: Week, *, run_id: str | None = None
) -> WeekJson:
    """The week's hierarchical JSON from its stored CSV, then the week's manifest listing both (manifest.py).
    The CSV must be the one its manifest lists: one changed since it was archived stops here, before any JSON."""
    csv_key, json_key = layout.csv_key(org_id, week), layout.json_key(org_id, week)
    period = {"start": week.monday.isoformat(), "end": week.end_day.isoformat()}
    with tempfile.TemporaryDirectory(prefix="circleci-json-") as tmp:
        source, target = Path(tmp) / "week.csv", Path(tmp) / "week.json"
        store.download(csv_key, source)
        csv = listed_csv(store, layout, org_id, week, source)
        result = _write_json(source, target, csv_key, period)
        stored = store.put_file(json_key, target, content_type="application/json")
    write_week_manifest(store, layout, org_id, week, csv, stored, result.jobs, run_id=run_id)
    return WeekJson(key=json_key, stored=stored, hierarchy=result)
