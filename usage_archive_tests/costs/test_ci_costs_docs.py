"""The quarter-by-team DuckDB query of docs/ci_costs.md, run as written over stored cost tables."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from usage_archive.archive.layout import ci_costs_key
from usage_archive.archive.store import LocalArchiveStore
from usage_archive.costs.week import CostResult, cost_file_bytes
from usage_archive.costs.weekly import weekly_cost_table
from usage_archive.periods import Week
from usage_archive_tests.costs.test_costs import TEAMS, export_row

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci_costs.md"


def documented_query() -> str:
    (query,) = re.findall(r"```sql\n-- quarter-by-team\n(.*?;)\n```", DOC.read_text(), re.S)
    return query


def store_week(store: LocalArchiveStore, monday: str, credits: str) -> None:
    week = Week.parse(monday)
    built = weekly_cost_table(week, circleci=[export_row("1", "api-server", credits)], teams=TEAMS)
    result = CostResult(week, built.table, built.providers, built.missing, [], [], Decimal("0.0006"), [])
    store.put_bytes(ci_costs_key(week), cost_file_bytes(result))


def test_the_documented_quarter_by_team_query(tmp_path: Path, monkeypatch) -> None:
    store = LocalArchiveStore(tmp_path / ".archive")
    store_week(store, "2026-09-28", "100000")  # its Monday is in Q3: not in the Q4 report
    store_week(store, "2026-10-05", "25000")
    store_week(store, "2026-11-09", "0.1")
    store_week(store, "2026-11-16", "0.2")
    monkeypatch.chdir(tmp_path)  # the query reads .archive/ from the working directory
    rows = duckdb.sql(documented_query()).fetchall()
    assert rows == [
        (
            date(2026, 10, 1),
            "platform",
            Decimal("15.00"),  # 25,000.3 credits × 0.0006 = 15.00018, rounded only by the report
            Decimal("15.00"),
            None,
            None,
            3,
        )
    ]
