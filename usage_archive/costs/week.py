"""A week's cost table from what the archive holds, and the file it is stored as (no Dagster import).

The sources are the week's stored files, each used when it is there:

- CircleCI: `circleci/usage_csv`, one merged CSV per configured organisation (archive/layout.py);
- GitHub Actions: `github_actions/workflow_runs` (the estimate) and `github_actions/billing_usage` (the ledger,
  which replaces the estimate for the organisations it covers).

A provider with no file for the week (not configured, or not archived yet) is left out and `missing` says why;
that never fails the table. A file that is there but cannot be read does fail it: the figures would be wrong.
The stored file's footer lists the providers covered, why the others are missing, every source object used and
the price per credit.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from usage_archive.archive.layout import (
    CircleCILayout,
    ci_costs_key,
    github_billing_usage_key,
    github_workflow_runs_key,
)
from usage_archive.archive.parquet_footer import parquet_bytes, read_with_footer, require_columns, with_footer
from usage_archive.archive.store import ArchiveStore
from usage_archive.circleci.columns import NULL
from usage_archive.costs.circleci import read_usage_csv
from usage_archive.costs.summary import WorkflowCost, WorkflowTally
from usage_archive.costs.weekly import (
    CIRCLECI,
    COST_SCHEMA,
    DEFAULT_USD_PER_CREDIT,
    GITHUB_ACTIONS,
    PROVIDERS,
    weekly_cost_table,
)
from usage_archive.github_actions.archive_file import read_archive
from usage_archive.github_actions.config import RepositoriesConfig
from usage_archive.github_actions.ledger import (
    LedgerWeek,
    cost_items,
    covered_organizations,
    read_ledger_file,
)
from usage_archive.periods import Week

INFO_KEY = b"usage_archive.ci_costs"
SCHEMA_VERSION = 1


class CostFileError(ValueError):
    """A stored cost table that cannot be read back."""


@dataclass
class CostSources:
    """The week's source files that are in the archive, and why the others are not used."""

    week: Week
    circleci_csv_keys: list[str] = field(default_factory=list)
    workflow_runs_key: str | None = None
    billing_usage_key: str | None = None
    notes: list[str] = field(default_factory=list)  # what is left out, and why

    @property
    def providers(self) -> list[str]:
        covered = []
        if self.circleci_csv_keys:
            covered.append(CIRCLECI)
        if self.workflow_runs_key or self.billing_usage_key:
            covered.append(GITHUB_ACTIONS)
        return covered

    @property
    def keys(self) -> list[str]:
        return [*self.circleci_csv_keys, *filter(None, [self.workflow_runs_key, self.billing_usage_key])]


def find_sources(store: ArchiveStore, week: Week, circleci_layout: CircleCILayout) -> CostSources:
    """Which of the week's source files the archive holds."""
    sources = CostSources(week)
    org_ids = (
        circleci_layout.org_ids if circleci_layout.per_org_folders else circleci_layout.org_ids[:1] or ("",)
    )
    for org in org_ids:
        key = circleci_layout.csv_key(org, week)
        if store.exists(key):
            sources.circleci_csv_keys.append(key)
        elif circleci_layout.per_org_folders:
            sources.notes.append(f"CircleCI organisation {org}: no usage CSV for the week ({key})")
    if not sources.circleci_csv_keys:
        sources.notes.insert(
            0,
            "CircleCI: no usage CSV archived for the week (circleci/usage_csv not materialized, or CircleCI not "
            "configured)",
        )
    runs_key, ledger_key = github_workflow_runs_key(week), github_billing_usage_key(week)
    sources.workflow_runs_key = runs_key if store.exists(runs_key) else None
    sources.billing_usage_key = ledger_key if store.exists(ledger_key) else None
    if not sources.workflow_runs_key and not sources.billing_usage_key:
        sources.notes.append(
            "GitHub Actions: neither workflow runs nor the billing ledger archived for the week "
            "(github_actions/workflow_runs not materialized, or GitHub not configured)"
        )
    elif not sources.billing_usage_key:
        sources.notes.append(
            "GitHub Actions: no billing ledger for the week (github_actions/billing_usage not materialized): "
            "costs are estimates from the rates table"
        )
    elif not sources.workflow_runs_key:
        sources.notes.append(
            "GitHub Actions: no workflow runs archived for the week: ledger costs only, without jobs or minutes"
        )
    return sources


def distinct_jobs(rows: Iterable[Mapping[str, str | None]]) -> Iterator[Mapping[str, str | None]]:
    """Each job once (JOB_ID, else workflow + job name + run number), as the CircleCI checks count them."""
    seen: set[Any] = set()
    for row in rows:
        job_id = row.get("JOB_ID")
        key = (
            job_id
            if job_id not in (None, "", NULL)
            else (row.get("WORKFLOW_ID"), row.get("JOB_NAME"), row.get("JOB_RUN_NUMBER"))
        )
        if key not in seen:
            seen.add(key)
            yield row


@dataclass
class CostResult:
    week: Week
    table: pa.Table
    providers: list[str]
    missing: list[str]  # providers left out
    notes: list[str]
    sources: list[str]  # object keys read
    usd_per_credit: Decimal
    workflows: list[WorkflowCost]  # the most expensive

    def info(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "week": self.week.key,
            "providers": self.providers,
            "missing_providers": self.missing,
            "notes": self.notes,
            "sources": self.sources,
            "usd_per_credit": str(self.usd_per_credit),
        }


def _circleci_rows(store: ArchiveStore, keys: list[str], workdir: Path) -> Iterator[dict[str, str | None]]:
    for index, key in enumerate(keys):
        path = workdir / f"circleci-{index}.csv"
        store.download(key, path)
        with open(path, encoding="utf-8", newline="") as fh:
            yield from read_usage_csv(fh, source=store.uri(key))
        path.unlink()


def build_cost_week(
    store: ArchiveStore,
    week: str | Week,
    *,
    circleci_layout: CircleCILayout,
    teams: RepositoriesConfig | None,
    usd_per_credit: Decimal = DEFAULT_USD_PER_CREDIT,
    log: Callable[[str], None] = lambda _message: None,
) -> CostResult:
    """The week's cost table from the sources the archive holds, and its ten most expensive workflows."""
    week = Week.parse(week)
    sources = find_sources(store, week, circleci_layout)
    for note in sources.notes:
        log(note)
    tally = WorkflowTally()
    workflow_runs = None
    if sources.workflow_runs_key:
        workflow_runs, _info = read_archive(store.get_bytes(sources.workflow_runs_key))
        tally.tally_github(workflow_runs)
    ledger: LedgerWeek | None = None
    if sources.billing_usage_key:
        ledger = read_ledger_file(store.get_bytes(sources.billing_usage_key))
    with tempfile.TemporaryDirectory(prefix="ci-costs-") as tmp:
        circleci = None
        if sources.circleci_csv_keys:
            rows = distinct_jobs(_circleci_rows(store, sources.circleci_csv_keys, Path(tmp)))
            circleci = tally.tally_circleci(rows, usd_per_credit)
        cost_week = weekly_cost_table(
            week,
            circleci=circleci,
            workflow_runs=workflow_runs,
            ledger=cost_items(ledger) if ledger is not None else None,
            ledger_organizations=covered_organizations(ledger) if ledger is not None else None,
            teams=teams,
            usd_per_credit=usd_per_credit,
            circleci_source="the CircleCI usage CSV",
        )
    return CostResult(
        week=week,
        table=cost_week.table,
        providers=cost_week.providers,
        missing=[p for p in PROVIDERS if p not in cost_week.providers],
        notes=sources.notes,
        sources=sources.keys,
        usd_per_credit=usd_per_credit,
        workflows=tally.most_expensive(10),
    )


def cost_file_bytes(result: CostResult) -> bytes:
    """The Parquet file (zstd), the week's providers, notes and sources in its footer."""
    return parquet_bytes(with_footer(result.table, INFO_KEY, json.dumps(result.info())))


def read_cost_file(data: bytes) -> tuple[pa.Table, dict[str, Any]]:
    """A stored cost table → (table, footer info)."""
    table, info = read_with_footer(
        data, INFO_KEY, CostFileError, "the Parquet file has no usage_archive.ci_costs footer"
    )
    require_columns(table, COST_SCHEMA, CostFileError)
    return table.replace_schema_metadata(None).select(COST_SCHEMA.names).cast(COST_SCHEMA), info


def previous_week_table(store: ArchiveStore, week: Week) -> pa.Table | None:
    """Last week's stored cost table, or None when it is not archived."""
    key = ci_costs_key(week.previous())
    if not store.exists(key):
        return None
    table, _info = read_cost_file(store.get_bytes(key))
    return table
