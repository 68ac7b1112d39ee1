"""The export jobs behind one window of usage: planned, persisted, resumed. No Dagster import.

The Usage API takes windows of at most 31 days and caps a result at 100 MB. A window is planned as pieces of at
most 31 days, one export job each. The plan, and each job's id as soon as its POST returns, are written to the
archive's working state (`archive/layout.py`: `circleci_export_job_key`) before anything is polled, so a run
that stops anywhere is finished by the next one without a new POST (the API allows ten an hour). Every job is
created before the first is polled, so CircleCI works on them side by side.

A job that fails because its result is too large is replaced by two jobs for the two halves of its window
(persisted the same way), down to windows of one hour; any other failure stops the run with CircleCI's reason,
and the next run creates a new job for that piece only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from usage_archive.archive.store import ArchiveStore
from usage_archive.circleci.api import (
    MAX_WINDOW,
    ExportFailed,
    ExportJobNotFound,
    UsageApiClient,
)
from usage_archive.github_actions.windows import Window
from usage_archive.periods import ONE_SECOND

# A result too large for one hour of an organisation's usage is not split further (import the export instead).
MIN_SPLIT_SECONDS = 3600

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    return None


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def plan_windows(window: Window, max_window: timedelta = MAX_WINDOW) -> list[Window]:
    """`window` cut into consecutive windows the API accepts (end ≤ start + `max_window`), without gaps or
    overlap: 70 days → 31 + 31 + 8."""
    pieces, start = [], window.start
    while start <= window.end:
        end = min(start + max_window - ONE_SECOND, window.end)
        pieces.append(Window(start, end))
        start = end + ONE_SECOND
    return pieces


@dataclass
class ExportPiece:
    """One export job's window, and the job once it is created."""

    window: Window
    job_id: str | None = None
    state: str = "planned"  # planned, then the API's: created, processing, completed, failed

    def as_json(self) -> dict[str, Any]:
        return {
            "start": _iso(self.window.start),
            "end": _iso(self.window.end),
            "usage_export_job_id": self.job_id,
            "state": self.state,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportPiece:
        window = Window(
            datetime.fromisoformat(data["start"]).astimezone(timezone.utc),
            datetime.fromisoformat(data["end"]).astimezone(timezone.utc),
        )
        return cls(window, data.get("usage_export_job_id"), str(data.get("state") or "planned"))


@dataclass
class ExportPlan:
    """The export jobs of one organisation's window, as stored in the working state."""

    org_id: str
    window: Window
    pieces: list[ExportPiece]
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @classmethod
    def new(cls, org_id: str, window: Window) -> ExportPlan:
        return cls(org_id, window, [ExportPiece(w) for w in plan_windows(window)])

    @property
    def job_ids(self) -> list[str]:
        return [p.job_id for p in self.pieces if p.job_id]

    def as_json(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "window": {"start": _iso(self.window.start), "end": _iso(self.window.end)},
            "created_at": self.created_at,
            "jobs": [p.as_json() for p in self.pieces],
        }

    @classmethod
    def from_json(cls, data: Any, org_id: str, window: Window) -> ExportPlan | None:
        """The stored plan when it is for this window; None when there is none, it is unreadable or it is for
        another window (then a new plan replaces it). Reads the earlier one-job form too."""
        if not isinstance(data, dict):
            return None
        expected = {"start": _iso(window.start), "end": _iso(window.end)}
        if data.get("window") != expected:
            return None
        try:
            if "jobs" in data:
                pieces = [ExportPiece.from_json(p) for p in data["jobs"]]
            elif data.get("usage_export_job_id"):  # one job for the whole window
                pieces = [
                    ExportPiece(window, data["usage_export_job_id"], str(data.get("state") or "created"))
                ]
            else:
                return None
        except (KeyError, TypeError, ValueError):
            return None
        if not pieces:
            return None
        return cls(org_id, window, pieces, str(data.get("created_at") or ""))


def load_plan(store: ArchiveStore, key: str) -> Any:
    """The stored state at `key` as JSON, or None when there is none or it is unreadable (a new plan is made:
    unreadable state is no reason to stop)."""
    if not store.exists(key):
        return None
    try:
        return json.loads(store.get_bytes(key))
    except ValueError:
        return None


def save_plan(store: ArchiveStore, key: str, plan: ExportPlan) -> None:
    store.put_bytes(
        key,
        json.dumps(plan.as_json(), indent=2, sort_keys=True).encode(),
        content_type="application/json",
        storage_class="STANDARD",
    )


@dataclass(frozen=True)
class WindowExport:
    """What the window's jobs produced: the downloaded gzip parts in window order, and the jobs."""

    parts: list[Path]
    names: list[str]  # "export job <id> part <n>", for messages that name a part
    jobs: list[ExportPiece]
    resumed: bool  # an earlier run's job was resumed (no POST for it)


def export_window(
    store: ArchiveStore,
    client: UsageApiClient,
    org_id: str,
    window: Window,
    state_key: str,
    workdir: Path,
    *,
    now: datetime | None = None,
    log: Log = _quiet,
) -> WindowExport:
    """Create (or resume) the window's export jobs, wait for each and download its parts into `workdir`.

    The caller stores what the parts hold and then deletes the state at `state_key`."""
    plan = ExportPlan.from_json(load_plan(store, state_key), org_id, window)
    resumable = {p.job_id for p in plan.pieces if p.job_id and p.state != "failed"} if plan else set()
    if plan is None:
        plan = ExportPlan.new(org_id, window)
        if len(plan.pieces) > 1:
            log(
                f"the window {window.created_filter()} is longer than the Usage API's 31 days: "
                f"{len(plan.pieces)} export jobs"
            )
    for piece in plan.pieces:
        if piece.state == "failed":  # an earlier run's failed job: a new one replaces it
            piece.job_id, piece.state = None, "planned"

    def create(piece: ExportPiece) -> None:
        job = client.create_export(org_id, piece.window.start, piece.window.end, now=now)
        piece.job_id, piece.state = job.job_id, job.state
        save_plan(store, state_key, plan)  # before any poll: a run that stops now resumes this job

    for piece in plan.pieces:
        if piece.job_id is None:
            create(piece)
    parts: list[Path] = []
    names: list[str] = []
    recreated: set[str] = set()
    index = 0
    while index < len(plan.pieces):
        piece = plan.pieces[index]
        if piece.job_id is None:
            create(piece)
        job_id = piece.job_id
        assert job_id is not None
        if job_id in resumable:
            log(f"resuming CircleCI export job {job_id} for {org_id} {piece.window.created_filter()}")
        try:
            job = client.wait_for_export(org_id, job_id)
        except ExportJobNotFound:
            if job_id in recreated:
                raise
            log(f"CircleCI no longer knows export job {job_id}; creating a new one")
            create(piece)
            recreated.add(piece.job_id or "")
            continue
        except ExportFailed as exc:
            if exc.result_too_large and piece.window.seconds >= 2 * MIN_SPLIT_SECONDS:
                halves = [ExportPiece(w) for w in piece.window.split()]
                log(
                    f"export job {job_id} failed because its result is too large ({exc.reason}); "
                    f"exporting {piece.window.created_filter()} as two halves"
                )
                plan.pieces[index : index + 1] = halves
                for half in halves:
                    create(half)
                continue
            piece.state = "failed"
            save_plan(store, state_key, plan)
            if exc.result_too_large:
                raise ExportFailed(
                    f"{exc} — even for the window {piece.window.created_filter()}, which is not split below one "
                    "hour: download the export from CircleCI's web app and import it instead",
                    exc.reason,
                ) from None
            raise
        piece.state = job.state
        for number, url in enumerate(job.download_urls, start=1):
            label = f"part {number} of {len(job.download_urls)} of export job {job_id}"
            path = workdir / f"job-{index:03d}-part-{number:04d}.csv.gz"
            size = client.download(url, path, label=label)
            log(f"downloaded {label} ({size} bytes)")
            parts.append(path)
            names.append(f"export job {job_id} part {number}")
        index += 1
    resumed = any(p.job_id in resumable for p in plan.pieces)  # a replaced job does not count
    return WindowExport(parts=parts, names=names, jobs=list(plan.pieces), resumed=resumed)
