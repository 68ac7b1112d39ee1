"""One archived week: the persisted export job, fetching the week from the Usage API, and deriving its
hierarchical JSON. No Dagster import; the assets and the import path call these functions.

Weeks are `periods.Week` (Monday 00:00 UTC); where their files go is `archive.layout.CircleCILayout`.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from usage_archive.archive.layout import CircleCILayout, circleci_export_job_key
from usage_archive.archive.store import ArchiveStore, StoredObject
from usage_archive.circleci.api import CircleCISettingsError, UsageApiClient
from usage_archive.circleci.export_jobs import ExportPiece, export_window, load_plan
from usage_archive.circleci.hierarchy import HierarchyResult, write_hierarchy
from usage_archive.circleci.merge import MergeResult, merge_parts
from usage_archive.github_actions.windows import Window
from usage_archive.periods import Week

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
) -> WeekCsv:
    """Export one week from the Usage API into the archive as one merged CSV.

    The export jobs (export_jobs.py: usually one; two halves, or more, when a result is too large) are stored
    before polling starts, so a retried or restarted run resumes them instead of spending more of the ten POSTs
    an hour. The state is removed once the CSV is stored."""
    state_key = circleci_export_job_key(org_id, week)
    key = layout.csv_key(org_id, week)
    with tempfile.TemporaryDirectory(prefix="circleci-week-") as tmp:
        export = export_window(
            store, client, org_id, Window.half_open(*week.bounds), state_key, Path(tmp), now=now, log=log
        )
        merged = Path(tmp) / "merged.csv"
        result = merge_parts(export.parts, merged, names=export.names)
        stored = store.put_file(key, merged, content_type="text/csv")
    store.delete(state_key)
    log(f"stored {result.rows} rows from {len(export.parts)} part(s) at {store.uri(key)}")
    return WeekCsv(
        key=key,
        stored=stored,
        merge=result,
        jobs=tuple(export.jobs),
        resumed=export.resumed,
        parts=len(export.parts),
    )


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
