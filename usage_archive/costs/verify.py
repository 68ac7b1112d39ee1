"""Does a stored cost table still say what its sources say? (no Dagster import)

Re-reads the week's source files and adds up, by a path of its own, what the table must preserve: CircleCI's
distinct jobs and credits (circleci/verify.py counts them as the CircleCI checks do) and credits × the price
recorded in the table's footer; GitHub's job rows; and the ledger's net Actions amount where the ledger is the
source. A source added, changed or removed after the table was built shows up as a difference: rebuild the
table (materialize `ci_costs/weekly_by_team` for the week again).
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from usage_archive.archive.layout import CircleCILayout
from usage_archive.archive.store import ArchiveStore
from usage_archive.circleci.verify import summarize_csv
from usage_archive.costs.week import find_sources
from usage_archive.costs.weekly import CIRCLECI, GITHUB_ACTIONS, LEDGER
from usage_archive.github_actions.archive_file import read_archive
from usage_archive.github_actions.billing_usage import is_actions
from usage_archive.github_actions.ledger import cost_items, covered_organizations, read_ledger_file
from usage_archive.periods import Week


def _sum(table: pa.Table, column: str) -> Decimal:
    return sum((v for v in table.column(column).to_pylist() if v is not None), Decimal(0))


def _provider(table: pa.Table, provider: str) -> pa.Table:
    return table.filter(pc.equal(table.column("provider"), provider))


def cost_table_problems(
    store: ArchiveStore,
    week: Week,
    table: pa.Table,
    info: dict[str, Any],
    circleci_layout: CircleCILayout,
) -> tuple[list[str], dict[str, Any]]:
    """(problems, the figures compared) of one week's stored table."""
    problems: list[str] = []
    figures: dict[str, Any] = {}
    sources = find_sources(store, week, circleci_layout)
    used, now = set(info.get("sources", [])), set(sources.keys)
    problems += [f"{key} was used for the table but is no longer archived" for key in sorted(used - now)]
    problems += [f"{key} is archived but the table was built without it" for key in sorted(now - used)]

    circleci = _provider(table, CIRCLECI)
    if sources.circleci_csv_keys:
        jobs, credits = 0, Decimal(0)
        with tempfile.TemporaryDirectory(prefix="ci-costs-check-") as tmp:
            for index, key in enumerate(sources.circleci_csv_keys):
                path = Path(tmp) / f"{index}.csv"
                store.download(key, path)
                summary = summarize_csv(path)
                jobs += summary.jobs
                credits += summary.credits.get("total", Decimal(0))
        price = Decimal(info.get("usd_per_credit", "0"))
        table_jobs, table_credits = _sum(circleci, "jobs"), _sum(circleci, "credits")
        table_cost = _sum(circleci, "cost_usd")
        figures[CIRCLECI] = {"csv_jobs": jobs, "table_jobs": int(table_jobs), "csv_credits": str(credits)}
        if table_jobs != jobs:
            problems.append(f"CircleCI: the CSVs hold {jobs} distinct jobs, the table {table_jobs}")
        if table_credits != credits:
            problems.append(
                f"CircleCI: the CSVs' TOTAL_CREDITS add up to {credits}, the table's to {table_credits}"
            )
        if table_cost != credits * price:
            problems.append(
                f"CircleCI: {credits} credits × {price} USD = {credits * price} USD, the table says {table_cost}"
            )
    elif circleci.num_rows:
        problems.append(
            f"CircleCI: no usage CSV is archived for the week, but the table has {circleci.num_rows} rows"
        )

    github = _provider(table, GITHUB_ACTIONS)
    if sources.workflow_runs_key:
        runs, _info = read_archive(store.get_bytes(sources.workflow_runs_key))
        table_jobs = _sum(github, "jobs")
        figures[GITHUB_ACTIONS] = {"job_rows": runs.num_rows, "table_jobs": int(table_jobs)}
        if table_jobs != runs.num_rows:
            problems.append(
                f"GitHub Actions: workflow_runs holds {runs.num_rows} job rows, the table {table_jobs}"
            )
    if sources.billing_usage_key:
        ledger = read_ledger_file(store.get_bytes(sources.billing_usage_key))
        covered = covered_organizations(ledger)
        net = Decimal(0)
        for row in (
            cost_items(ledger).select(["account", "product", "organization_name", "net_amount"]).to_pylist()
        ):
            owner = (row["organization_name"] or row["account"]).lower()
            if is_actions(row["product"]) and owner in covered:
                net += row["net_amount"] or Decimal(0)
        from_ledger = _sum(github.filter(pc.equal(github.column("cost_source"), LEDGER)), "cost_usd")
        figures.setdefault(GITHUB_ACTIONS, {})["ledger_actions_net_usd"] = str(net)
        if from_ledger != net:
            problems.append(
                f"GitHub Actions: the ledger's net Actions amount is {net} USD, the table's {from_ledger}"
            )
    if not sources.workflow_runs_key and not sources.billing_usage_key and github.num_rows:
        problems.append(
            f"GitHub Actions: no source is archived for the week, but the table has {github.num_rows} rows"
        )
    return problems, figures
