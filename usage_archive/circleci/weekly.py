"""One archived week: its object keys, the persisted export job, fetching it from the Usage API, and deriving
its hierarchical JSON. No Dagster import; the assets and the import path call these functions.

Weeks start Monday 00:00 UTC. Object keys follow the seed: `usage-data-<monday>-to-<next monday>.csv` (end =
the day after the week's last day), flat under `circleci-usage-data/` for one organisation and in one folder per
organisation when several are archived.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from usage_archive.archive.store import ArchiveStore, StoredObject
from usage_archive.circleci.api import (
    CircleCISettingsError,
    ExportFailed,
    ExportJobNotFound,
    UsageApiClient,
    export_window,
)
from usage_archive.circleci.hierarchy import HierarchyResult, write_hierarchy
from usage_archive.circleci.merge import MergeResult, merge_parts

PREFIX = "circleci-usage-data"
JOBS_PREFIX = f"{PREFIX}/.export-jobs"
_ORG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    return None


def parse_org_ids(value: str | None) -> tuple[str, ...]:
    """CIRCLECI_ORG_ID: one id or a comma-separated list (duplicates and blanks ignored)."""
    ids: list[str] = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        if not _ORG_ID.match(item):
            raise CircleCISettingsError(
                f"CIRCLECI_ORG_ID contains {item!r}, which is not an organisation id "
                "(letters, digits, '-', '_' and '.' only)"
            )
        if item not in ids:
            ids.append(item)
    return tuple(ids)


def week_start_of(day: date) -> date:
    """The Monday of the week holding `day`."""
    return day - timedelta(days=day.weekday())


def parse_week(key: str) -> date:
    try:
        day = date.fromisoformat(key)
    except ValueError:
        raise ValueError(f"week {key!r} is not a date (YYYY-MM-DD, a Monday)") from None
    if day.weekday() != 0:
        raise ValueError(f"week {key!r} is a {day:%A}: weeks start on Monday")
    return day


@dataclass(frozen=True)
class ArchiveLayout:
    """Where a week lands. One (or no) configured organisation: flat; several: a folder per organisation."""

    org_ids: tuple[str, ...] = ()

    @property
    def per_org_folders(self) -> bool:
        return len(self.org_ids) > 1

    def folder(self, org_id: str) -> str:
        return f"{PREFIX}/{org_id}" if self.per_org_folders else PREFIX

    def stem(self, org_id: str, week: date) -> str:
        return f"{self.folder(org_id)}/usage-data-{week:%Y-%m-%d}-to-{week + timedelta(days=7):%Y-%m-%d}"

    def csv_key(self, org_id: str, week: date) -> str:
        return f"{self.stem(org_id, week)}.csv"

    def json_key(self, org_id: str, week: date) -> str:
        return f"{self.stem(org_id, week)}-hierarchical.json"

    def accepts(self, org_id: str) -> bool:
        return not self.org_ids or org_id in self.org_ids


def export_job_key(org_id: str, week: date) -> str:
    return f"{JOBS_PREFIX}/{org_id}/{week:%Y-%m-%d}.json"


def load_export_job(store: ArchiveStore, org_id: str, week: date) -> dict | None:
    key = export_job_key(org_id, week)
    if not store.exists(key):
        return None
    try:
        state = json.loads(store.get_bytes(key))
    except ValueError:
        return None  # unreadable state is no reason to stop: a new job is created
    return state if isinstance(state, dict) and state.get("usage_export_job_id") else None


def save_export_job(store: ArchiveStore, org_id: str, week: date, state: dict) -> None:
    store.put_bytes(
        export_job_key(org_id, week),
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
    week: date,
    layout: ArchiveLayout,
    *,
    now: datetime | None = None,
    log: Log = _quiet,
) -> WeekCsv:
    """Export one week from the Usage API into the archive as one merged CSV.

    The export job id is stored before polling starts, so a retried or restarted run resumes the same job
    instead of spending another of the ten POSTs an hour. The state is removed once the CSV is stored; a job
    that failed or that CircleCI no longer knows is replaced by a new one."""
    start, end = export_window(datetime.combine(week, time(), timezone.utc))
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
                "week": f"{week:%Y-%m-%d}",
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
    store.delete(export_job_key(org_id, week))
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


def week_period(week: date) -> dict[str, str]:
    return {"start": f"{week:%Y-%m-%d}", "end": f"{week + timedelta(days=7):%Y-%m-%d}"}


def archive_week_json(store: ArchiveStore, layout: ArchiveLayout, org_id: str, week: date) -> WeekJson:
    return build_week_json(
        store, layout.csv_key(org_id, week), layout.json_key(org_id, week), period=week_period(week)
    )


def weeks_between(first: date, last: date) -> Sequence[date]:
    weeks, week = [], week_start_of(first)
    while week <= last:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks
