"""What verify, restore and fetch work on: one archived period of one source, with its manifest and objects.

- billing: a month, its folder `billing-archive/YYYY/MM/` and `manifest.json`;
- circleci: a week of one organisation (flat, or in the organisation's folder), its CSV, hierarchical JSON and
  `…-manifest.json`;
- github_actions: a week, its Parquet file and `…-manifest.json`.

Every key comes from archive/layout.py; weeks are found by listing the source's prefix. No Dagster import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from usage_archive.archive.layout import (
    BILLING_PREFIX,
    CIRCLECI_PREFIX,
    GITHUB_ACTIONS_PREFIX,
    MANIFEST_NAME,
    WEEK_MANIFEST_SUFFIX,
    billing_folder,
    billing_manifest_key,
    billing_month_of,
    circleci_week_keys,
    circleci_week_of,
    github_week_of,
    github_workflow_runs_key,
    github_workflow_runs_manifest_key,
    restore_record_key,
    week_restore_record_key,
)
from usage_archive.archive.store import ArchiveStore
from usage_archive.periods import Month, PeriodError, Week

BILLING, CIRCLECI, GITHUB_ACTIONS = "billing", "circleci", "github_actions"
SOURCES = (BILLING, CIRCLECI, GITHUB_ACTIONS)
WEEKLY_SOURCES = (CIRCLECI, GITHUB_ACTIONS)


class TargetError(ValueError):
    """A source or period that names nothing verify, restore or fetch can work on."""


@dataclass(frozen=True, order=True)
class ArchivedPeriod:
    """One source's period in the archive. `org_folder` is the CircleCI organisation's folder (None: flat)."""

    source: str
    period: Month | Week
    org_folder: str | None = None

    @property
    def label(self) -> str:
        """`2025-01` for a billing month (as it always was), `circleci/[<org>/]<monday>`,
        `github_actions/<monday>`."""
        if self.source == BILLING:
            return str(self.period)
        return "/".join(p for p in (self.source, self.org_folder, self.period.key) if p)

    @property
    def manifest_key(self) -> str:
        if self.source == BILLING:
            return billing_manifest_key(self.month)
        if self.source == CIRCLECI:
            return circleci_week_keys(self.org_folder, self.week)["manifest"]
        return github_workflow_runs_manifest_key(self.week)

    @property
    def month(self) -> Month:
        assert isinstance(self.period, Month)
        return self.period

    @property
    def week(self) -> Week:
        assert isinstance(self.period, Week)
        return self.period

    @property
    def file_keys(self) -> tuple[str, ...]:
        """A week's file keys (the manifest excluded); billing months are listed by folder instead."""
        if self.source == CIRCLECI:
            keys = circleci_week_keys(self.org_folder, self.week)
            return keys["csv"], keys["json"]
        if self.source == GITHUB_ACTIONS:
            return (github_workflow_runs_key(self.week),)
        return ()

    @property
    def restore_record_key(self) -> str:
        if self.source == BILLING:
            return restore_record_key(self.month)
        return week_restore_record_key(self.manifest_key.removesuffix(WEEK_MANIFEST_SUFFIX))

    def stored_keys(self, store: ArchiveStore) -> list[str]:
        """Every object of the period in the store, the manifest included."""
        if self.source == BILLING:
            return [o.key for o in store.list(billing_folder(self.month) + "/")]
        return [k for k in (*self.file_keys, self.manifest_key) if store.exists(k)]

    def unlisted(self, store: ArchiveStore, listed: set[str]) -> list[str]:
        """Objects of the period the manifest does not list (the manifest itself aside)."""
        return sorted(
            k
            for k in self.stored_keys(store)
            if k not in listed and k != self.manifest_key and not k.endswith(f"/{MANIFEST_NAME}")
        )

    def record(self) -> dict[str, Any]:
        """How a restore record names the period."""
        return {"source": self.source, "period": str(self.period), "org_folder": self.org_folder}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ArchivedPeriod:
        """The period a restore record names (records written before weekly sources were billing months)."""
        source = record.get("source") or BILLING
        parse = Month.parse if source == BILLING else Week.parse
        return cls(source, parse(record["period"]), record.get("org_folder"))


def _check_source(source: str) -> str:
    if source not in SOURCES:
        raise TargetError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
    return source


def parse_period(text: str) -> Month | Week:
    """`YYYY-MM` (a month) or a Monday `YYYY-MM-DD` (a week); `YYYY-MM-01` is a month unless it is a Monday."""
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        try:
            return Month.parse(value)
        except PeriodError:
            raise PeriodError(
                f"period {text!r} is not a month (YYYY-MM) nor a week (its Monday, YYYY-MM-DD)"
            ) from None
    if day.weekday() == 0:
        return Week(day)
    if day.day == 1:
        return Month(day)
    raise PeriodError(
        f"period {text!r} is not a month (YYYY-MM) nor a week: {day:%A}, a week is named by its Monday"
    )


def archived_weeks(store: ArchiveStore, source: str) -> list[ArchivedPeriod]:
    """Every week of a weekly source with at least one object in the store, oldest first."""
    found: set[ArchivedPeriod] = set()
    if source == CIRCLECI:
        for obj in store.list(CIRCLECI_PREFIX + "/"):
            parsed = circleci_week_of(obj.key)
            if parsed is not None:
                found.add(ArchivedPeriod(CIRCLECI, parsed[1], parsed[0]))
    elif source == GITHUB_ACTIONS:
        for obj in store.list(GITHUB_ACTIONS_PREFIX + "/"):
            parsed_week = github_week_of(obj.key)
            if parsed_week is not None:
                found.add(ArchivedPeriod(GITHUB_ACTIONS, parsed_week[0]))
    return sorted(found, key=lambda t: (t.period, t.org_folder or ""))


def archived_months(store: ArchiveStore) -> list[ArchivedPeriod]:
    months = {billing_month_of(obj.key) for obj in store.list(BILLING_PREFIX + "/")}
    return [ArchivedPeriod(BILLING, m) for m in sorted(m for m in months if m is not None)]


def archived_periods(store: ArchiveStore, sources: Iterable[str] = SOURCES) -> list[ArchivedPeriod]:
    """Everything archived of the given sources: billing months, then each weekly source's weeks."""
    out: list[ArchivedPeriod] = []
    for source in sources:
        out += archived_months(store) if _check_source(source) == BILLING else archived_weeks(store, source)
    return out


def resolve(
    store: ArchiveStore, source: str | None, period: str | None, org: str | None = None
) -> list[ArchivedPeriod]:
    """The periods `--source`/`--period`/`--org` name. A billing period is a month; a weekly source takes a week
    (its Monday) or a month (every archived week whose Monday falls in it). Without a source a month (or the
    1st of one, a billing partition key) means billing and a week means every weekly source. A period nothing is archived for still yields its target (so
    that verify reports the missing manifest), except a month of a weekly source, which yields nothing."""
    if source is not None:
        _check_source(source)
    if period is None:
        if source is None:
            return archived_periods(store)
        return [t for t in archived_periods(store, [source]) if org is None or t.org_folder == org]
    parsed = parse_period(period)
    if source is None and isinstance(parsed, Week) and parsed.monday.day == 1:
        parsed = Month(parsed.monday)  # without a source, the 1st is the billing month (its partition key)
    if source is None:
        sources = [BILLING] if isinstance(parsed, Month) else list(WEEKLY_SOURCES)
    else:
        sources = [source]
    targets: list[ArchivedPeriod] = []
    for name in sources:
        if name == BILLING:
            if isinstance(parsed, Week):
                if parsed.monday.day != 1:
                    raise TargetError(
                        f"billing is archived by month: {period} is a week; give YYYY-MM (e.g. {parsed.monday:%Y-%m})"
                    )
                parsed = Month(parsed.monday)
            targets.append(ArchivedPeriod(BILLING, parsed))
            continue
        weeks = [t for t in archived_weeks(store, name) if org is None or t.org_folder == org]
        if isinstance(parsed, Month):
            targets += [t for t in weeks if Month.containing(t.week.monday) == parsed]
            continue
        matching = [t for t in weeks if t.week == parsed]
        if matching:
            targets += matching
        elif source is not None:  # nothing archived for the named week: its target shows what is missing
            targets.append(ArchivedPeriod(name, parsed, org))
    return targets
