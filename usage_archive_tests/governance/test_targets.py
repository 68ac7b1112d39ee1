"""Which archived periods `--source`/`--period`/`--org` name: months, weeks, organisations (a local archive)."""

from __future__ import annotations

from pathlib import Path

import pytest

from usage_archive.archive.layout import CircleCILayout, billing_manifest_key, github_workflow_runs_key
from usage_archive.archive.store import LocalArchiveStore
from usage_archive.governance.targets import ArchivedPeriod, TargetError, parse_period, resolve
from usage_archive.periods import Month, PeriodError, Week

NOV_16, NOV_23 = Week.parse("2026-11-16"), Week.parse("2026-11-23")


def test_a_period_is_a_month_or_a_week() -> None:
    assert parse_period("2026-11") == Month.parse("2026-11")
    assert parse_period("2026-11-16") == NOV_16
    assert parse_period("2026-10-01") == Month.parse("2026-10")  # a Thursday: the month's partition key
    assert parse_period("2026-06-01") == Week.parse("2026-06-01")  # a Monday that is also the 1st
    with pytest.raises(PeriodError, match="'2026-11-17' is not a month .* a week is named by its Monday"):
        parse_period("2026-11-17")
    with pytest.raises(PeriodError, match="'2025-13' is not a month"):
        parse_period("2025-13")


def test_periods_resolve_to_what_is_archived(tmp_path: Path) -> None:
    store = LocalArchiveStore(tmp_path)
    orgs = CircleCILayout(("org-a", "org-b"))
    for org in ("org-a", "org-b"):
        store.put_bytes(orgs.csv_key(org, NOV_16), b"x")
    store.put_bytes(orgs.manifest_key("org-a", NOV_23), b"{}")
    store.put_bytes(github_workflow_runs_key(NOV_16), b"x")
    store.put_bytes(billing_manifest_key(Month.parse("2026-10")), b"{}")

    labels = [t.label for t in resolve(store, None, None)]
    assert labels == [
        "2026-10",
        "circleci/org-a/2026-11-16",
        "circleci/org-b/2026-11-16",
        "circleci/org-a/2026-11-23",
        "github_actions/2026-11-16",
    ]
    assert [t.label for t in resolve(store, "circleci", "2026-11-16", "org-b")] == [
        "circleci/org-b/2026-11-16"
    ]
    assert [t.label for t in resolve(store, "circleci", "2026-11")] == labels[1:4]
    assert [t.label for t in resolve(store, None, "2026-11-16")] == [*labels[1:3], labels[4]]
    assert [t.label for t in resolve(store, None, "2026-10-01")] == [
        "2026-10"
    ]  # the 1st without a source: billing
    # A week nothing is archived for still names its manifest, so verify can say it is missing.
    (missing,) = resolve(store, "github_actions", "2026-11-23")
    assert missing.manifest_key.endswith("workflow-runs-2026-11-23-to-2026-11-30-manifest.json")
    assert resolve(store, "github_actions", "2026-10") == []
    with pytest.raises(TargetError, match="billing is archived by month"):
        resolve(store, "billing", "2026-11-16")
    with pytest.raises(TargetError, match="unknown source 'jenkins'"):
        resolve(store, "jenkins", None)


def test_a_restore_record_names_its_period() -> None:
    week = ArchivedPeriod("circleci", NOV_16, "org-a")
    assert ArchivedPeriod.from_record(week.record()) == week
    assert ArchivedPeriod.from_record({"period": "2025-01"}) == ArchivedPeriod(
        "billing", Month.parse("2025-01")
    )
    assert (
        week.restore_record_key
        == ".restores/circleci-usage-data-org-a-usage-data-2026-11-16-to-2026-11-23.json"
    )
