"""Independent verification of archived billing months (no Dagster import).

Re-reads each month's manifest and every object it lists from the store (never trusting run history): sizes,
SHA-256 and Parquet row counts through `usage_archive.export.verify.verify_file`. Objects in Glacier tiers are
reported (their size is still checked) instead of failing. Objects in the month's folder that the manifest does
not list, and folders without a manifest, are mismatches: the archive must be provably complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from usage_archive.archive.store import ArchiveStore, ArchiveStoreError
from usage_archive.export.manifest import MANIFEST_NAME, ManifestError
from usage_archive.export.month import (
    BILLING_PREFIX,
    manifest_key,
    parse_period,
    period_folder,
    read_manifest,
)
from usage_archive.export.verify import FileVerification, entry_key, verify_file

MONTH_FOLDER = re.compile(rf"^{BILLING_PREFIX}/(\d{{4}})/(\d{{2}})/")


@dataclass
class PeriodVerification:
    period: str
    manifest_problem: str | None = None
    manifest_archived: str | None = None  # the manifest's Glacier class: nothing can be read before a restore
    files: list[FileVerification] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        out = [self.manifest_problem] if self.manifest_problem else []
        out += [p for f in self.files for p in f.problems]
        out += [f"{key} is in the month's folder but not in the manifest" for key in self.unlisted]
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


def verify_period(store: ArchiveStore, period: str | date) -> PeriodVerification:
    month = parse_period(period)
    result = PeriodVerification(period=f"{month:%Y-%m}")
    m_key = manifest_key(month)
    try:
        head = store.head(m_key)
        if head is None:
            result.manifest_problem = f"{month:%Y-%m}: no manifest at {store.uri(m_key)}"
            return result
        if head.needs_restore:
            result.manifest_archived = head.storage_class
            return result
        manifest = read_manifest(store, month)
    except (ManifestError, ArchiveStoreError) as exc:
        result.manifest_problem = f"{month:%Y-%m}: manifest unreadable: {exc}"
        return result
    assert manifest is not None
    listed = set()
    for entry in manifest["files"]:
        listed.add(entry_key(entry))
        result.files.append(verify_file(store, entry))
    folder = period_folder(month) + "/"
    result.unlisted = sorted(
        o.key
        for o in store.list(folder)
        if o.key not in listed and o.key != m_key and not o.key.endswith(f"/{MANIFEST_NAME}")
    )
    return result


def archived_periods(store: ArchiveStore) -> list[str]:
    """Every YYYY-MM that has at least one object under billing-archive/, oldest first."""
    months = set()
    for obj in store.list(BILLING_PREFIX + "/"):
        match = MONTH_FOLDER.match(obj.key)
        if match:
            months.add(f"{match.group(1)}-{match.group(2)}")
    return sorted(months)


def verify_all(store: ArchiveStore, periods: Iterable[str] | None = None) -> list[PeriodVerification]:
    return [verify_period(store, p) for p in (archived_periods(store) if periods is None else periods)]


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
