"""Independent verification of archived periods, every source (no Dagster import).

Re-reads each period's manifest and every object it lists from the store (never trusting run history): sizes,
SHA-256 and row counts through `usage_archive.export.verify.verify_file` (Parquet rows for billing months and
GitHub Actions weeks, CSV records and JSON jobs for CircleCI weeks). Objects in Glacier tiers are reported (their
size is still checked) instead of failing. Objects of the period that the manifest does not list, and periods
without a manifest, are mismatches: the archive must be provably complete. Periods are `governance.targets`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from usage_archive.archive.store import ArchiveStore, ArchiveStoreError
from usage_archive.export.manifest import ManifestError, read_manifest_at
from usage_archive.export.verify import FileVerification, entry_key, verify_file
from usage_archive.governance.targets import BILLING, ArchivedPeriod, archived_months
from usage_archive.periods import Month


@dataclass
class PeriodVerification:
    period: str
    source: str = BILLING
    manifest_problem: str | None = None
    manifest_archived: str | None = None  # the manifest's Glacier class: nothing can be read before a restore
    files: list[FileVerification] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        out = [self.manifest_problem] if self.manifest_problem else []
        out += [p for f in self.files for p in f.problems]
        where = "the month's folder" if self.source == BILLING else "the week's objects"
        out += [f"{key} is in {where} but not in the manifest" for key in self.unlisted]
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def archived(self) -> list[str]:
        return [f.key for f in self.files if f.needs_restore]

    @property
    def status(self) -> str:
        if self.manifest_problem:
            return "NO MANIFEST" if "no manifest" in self.manifest_problem else "BAD MANIFEST"
        if self.problems:
            return "MISMATCH"
        if self.manifest_archived:
            return f"IN {self.manifest_archived} (restore the month to verify it)"
        return f"OK ({len(self.archived)} in Glacier, restore to read)" if self.archived else "OK"

    def summary_row(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "files": len(self.files),
            "records": sum(f.expected_records for f in self.files),
            "bytes": sum(f.stored_bytes or 0 for f in self.files),
            "verified": sum(1 for f in self.files if f.ok and not f.needs_restore),
            "glacier": len(self.archived),
            "problems": len(self.problems),
            "status": self.status,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary_row(),
            "problem_list": self.problems,
            "files_detail": [f.as_dict() for f in self.files],
        }


def verify_target(store: ArchiveStore, target: ArchivedPeriod) -> PeriodVerification:
    """One period of one source against its manifest."""
    result = PeriodVerification(period=target.label, source=target.source)
    m_key = target.manifest_key
    try:
        head = store.head(m_key)
        if head is None:
            result.manifest_problem = f"{target.label}: no manifest at {store.uri(m_key)}"
            return result
        if head.needs_restore:
            result.manifest_archived = head.storage_class
            return result
        manifest = read_manifest_at(store, m_key)
    except (ManifestError, ArchiveStoreError) as exc:
        result.manifest_problem = f"{target.label}: manifest unreadable: {exc}"
        return result
    assert manifest is not None
    listed = set()
    for entry in manifest["files"]:
        listed.add(entry_key(entry))
        result.files.append(verify_file(store, entry))
    result.unlisted = target.unlisted(store, listed)
    return result


def verify_period(store: ArchiveStore, period: str | date | Month) -> PeriodVerification:
    """One billing month."""
    return verify_target(store, ArchivedPeriod(BILLING, Month.parse(period)))


def archived_periods(store: ArchiveStore) -> list[str]:
    """Every YYYY-MM that has at least one object in the billing archive, oldest first."""
    return [t.label for t in archived_months(store)]


def verify_all(store: ArchiveStore, periods: Iterable[str] | None = None) -> list[PeriodVerification]:
    """Billing months: the given ones, else every archived one."""
    return [verify_period(store, p) for p in (archived_periods(store) if periods is None else periods)]


def verify_targets(store: ArchiveStore, targets: Iterable[ArchivedPeriod]) -> list[PeriodVerification]:
    return [verify_target(store, t) for t in targets]


SUMMARY_COLUMNS = ("period", "files", "records", "bytes", "verified", "glacier", "problems", "status")


def summary_table(results: list[PeriodVerification]) -> str:
    """A plain-text table, one line per month, and a total line."""
    rows = [[str(r.summary_row()[c]) for c in SUMMARY_COLUMNS] for r in results]
    bad = sum(1 for r in results if not r.ok)
    rows.append(
        [
            "total",
            str(sum(len(r.files) for r in results)),
            str(sum(r.summary_row()["records"] for r in results)),
            str(sum(r.summary_row()["bytes"] for r in results)),
            str(sum(r.summary_row()["verified"] for r in results)),
            str(sum(len(r.archived) for r in results)),
            str(sum(len(r.problems) for r in results)),
            f"{len(results) - bad} ok, {bad} failing",
        ]
    )
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(SUMMARY_COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(SUMMARY_COLUMNS, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)
