"""One archived week: the persisted export job, fetching the week from the Usage API, and deriving its
hierarchical JSON. No Dagster import; the assets and the import path call these functions.

Weeks are `periods.Week` (Monday 00:00 UTC); where their files go is `archive.layout.CircleCILayout`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from usage_archive.archive.layout import CircleCILayout, circleci_export_job_key
from usage_archive.archive.store import ArchiveStore, StoredObject
from usage_archive.circleci.api import ExportFailed, ExportJobNotFound, UsageApiClient
from usage_archive.circleci.hierarchy import HierarchyResult, write_hierarchy
from usage_archive.circleci.merge import MergeResult, merge_parts
from usage_archive.periods import Week

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    return None


def load_export_job(store: ArchiveStore, org_id: str, week: Week) -> dict | None:
    key = circleci_export_job_key(org_id, week)
    if not store.exists(key):
        return None
    try:
        state = json.loads(store.get_bytes(key))
    except ValueError:
        return None  # unreadable state is no reason to stop: a new job is created
    return state if isinstance(state, dict) and state.get("usage_export_job_id") else None


def save_export_job(store: ArchiveStore, org_id: str, week: Week, state: dict) -> None:
    store.put_bytes(
        circleci_export_job_key(org_id, week),
        json.dumps(state, indent=2, sort_keys=True).encode(),
        content_type="application/json",
        storage_class="STANDARD",
    )


@dataclass(frozen=True)
class WeekCsv:
    key: str
    stored: StoredObject
    merge: MergeResult
    job_id: str
    resumed: bool
    parts: int


def fetch_week_csv(
    store: ArchiveStore,
    client: UsageApiClient,
    org_id: str,
    week: Week,
    layout: CircleCILayout,
    *,
    now: datetime | None = None,
    log: Log = _quiet,
) -> WeekCsv:
    """Export one week from the Usage API into the archive as one merged CSV.

    The export job id is stored before polling starts, so a retried or restarted run resumes the same job
    instead of spending another of the ten POSTs an hour. The state is removed once the CSV is stored; a job
    that failed or that CircleCI no longer knows is replaced by a new one."""
    start, end = week.start, week.last_second  # the Usage API takes an inclusive window
    window = {"start": start.isoformat(), "end": end.isoformat()}
    state = load_export_job(store, org_id, week)
    resumed = bool(state and state.get("window") == window and state.get("state") != "failed")
    if resumed:
        job_id = state["usage_export_job_id"]  # type: ignore[index]
        log(f"resuming CircleCI export job {job_id} for {org_id} week {week} (no new POST)")
        try:
            job = client.wait_for_export(org_id, job_id)
        except ExportJobNotFound:
            log(f"CircleCI no longer knows export job {job_id}; creating a new one")
            resumed = False
        except ExportFailed:
            save_export_job(store, org_id, week, {**state, "state": "failed"})  # type: ignore[dict-item]
            raise
    if not resumed:
        created = client.create_export(org_id, start, end, now=now)
        job_id = created.job_id
        save_export_job(
            store,
            org_id,
            week,
            {
                "usage_export_job_id": job_id,
                "org_id": org_id,
                "week": week.key,
                "window": window,
                "state": created.state,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
        )
        try:
            job = client.wait_for_export(org_id, job_id)
        except ExportFailed:
            save_export_job(
                store, org_id, week, {"usage_export_job_id": job_id, "window": window, "state": "failed"}
            )
            raise
    key = layout.csv_key(org_id, week)
    with tempfile.TemporaryDirectory(prefix="circleci-week-") as tmp:
        parts = []
        for index, url in enumerate(job.download_urls):
            label = f"part {index + 1} of {len(job.download_urls)}"
            path = Path(tmp) / f"part-{index:04d}.csv.gz"
            size = client.download(url, path, label=label)
            log(f"downloaded {label} ({size} bytes)")
            parts.append(path)
        merged = Path(tmp) / "merged.csv"
        result = merge_parts(
            parts, merged, names=[f"export job {job_id} part {i + 1}" for i in range(len(parts))]
        )
        stored = store.put_file(key, merged, content_type="text/csv")
    store.delete(circleci_export_job_key(org_id, week))
    log(f"stored {result.rows} rows from {len(parts)} part(s) at {store.uri(key)}")
    return WeekCsv(key=key, stored=stored, merge=result, job_id=job_id, resumed=resumed, parts=len(parts))


@dataclass(frozen=True)
class WeekJson:
    key: str
    stored: StoredObject
    hierarchy: HierarchyResult


def build_week_json(
    store: ArchiveStore,
    csv_key: str,
    json_key: str,
    *,
    period: dict[str, str] | None = None,
) -> WeekJson:
    """Read the week's stored CSV and store its hierarchical JSON (written as a stream to a temporary file,
    then uploaded: a failure leaves no half-written object)."""
    with tempfile.TemporaryDirectory(prefix="circleci-json-") as tmp:
        source = Path(tmp) / "week.csv"
        store.download(csv_key, source)
        target = Path(tmp) / "week.json"
        with open(target, "w", encoding="utf-8", newline="\n") as out:
            result = write_hierarchy(source, out, source_name=csv_key.rsplit("/", 1)[-1], period=period)
        stored = store.put_file(json_key, target, content_type="application/json")
    return WeekJson(key=json_key, stored=stored, hierarchy=result)


def archive_week_json(store: ArchiveStore, layout: CircleCILayout, org_id: str, week: Week) -> WeekJson:
    return build_week_json(
        store,
        layout.csv_key(org_id, week),
        layout.json_key(org_id, week),
        period={"start": week.monday.isoformat(), "end": week.end_day.isoformat()},
    )
