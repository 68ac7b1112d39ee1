"""One weekly cost table across CI providers: week × provider × team × project/repository.

- **CircleCI** (the week's merged usage CSV): jobs, minutes (JOB_RUN_SECONDS / 60), credits (TOTAL_CREDITS)
  and cost = credits × the price per credit (default 0.0006 USD: 25,000 credits for 15 USD on the Performance
  plan; contracts differ), recorded in every row. `cost_source` is `estimate`: CircleCI bills credits, and
  what a credit costs depends on the plan and contract, so credits × the configured price is our estimate of the
  dollars, not a figure CircleCI states.
- **GitHub Actions** (`github_actions/workflow_runs`): jobs, minutes (each job rounded up, as GitHub counts
  them), billable minutes and the estimate from the rates table. Where GitHub's billing ledger covers the
  repository's organisation, the cost is the ledger's **net** amount for product `actions` (runner minutes and
  storage, after included minutes; `cost_source` `ledger`), else the estimate (`cost_source` `estimate`). A
  repository the ledger bills but the archive did not collect gets a row of its own, without jobs or minutes.

Teams come from repositories.yml for both providers: CircleCI projects are matched by the owner/name of their
VCS_URL. Everything else is `(no team)`. A provider whose source is missing is left out, and the result says
which providers the week covers. Money stays Decimal throughout; nothing is rounded.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Any

import pyarrow as pa

from usage_archive.costs.circleci import repository_from_vcs_url
from usage_archive.github_actions.billing_usage import ORGANIZATION, is_actions, ledger_repository
from usage_archive.github_actions.config import RepositoriesConfig
from usage_archive.github_actions.metrics import NO_TEAM
from usage_archive.github_actions.runners import LARGER
from usage_archive.periods import Week

CIRCLECI = "circleci"
GITHUB_ACTIONS = "github_actions"
PROVIDERS = (CIRCLECI, GITHUB_ACTIONS)
DEFAULT_USD_PER_CREDIT = Decimal("0.0006")
LEDGER = "ledger"
ESTIMATE = "estimate"
NO_REPOSITORY = "(no repository)"
UNKNOWN_PROJECT = "(unknown project)"

CREDIT_PLACES = 9
MINUTE_PLACES = 4
MONEY = pa.decimal128(38, 18)  # ledger amounts carry up to 18 places; credits (9) × price per credit (9) too
COST_SCHEMA = pa.schema(
    [
        pa.field("week_start", pa.date32(), nullable=False),
        pa.field("provider", pa.string(), nullable=False),
        pa.field("team", pa.string(), nullable=False),
        pa.field(
            "project", pa.string(), nullable=False
        ),  # owner/name where known, else the CircleCI project name
        pa.field("jobs", pa.int64()),
        pa.field("minutes", pa.decimal128(20, MINUTE_PLACES)),
        pa.field("billable_minutes", pa.int64()),  # GitHub only
        pa.field("credits", pa.decimal128(38, CREDIT_PLACES)),  # CircleCI only
        pa.field("usd_per_credit", pa.decimal128(20, CREDIT_PLACES)),  # CircleCI only: the price used
        pa.field("estimated_cost_usd", MONEY),  # GitHub only: from the rates table
        pa.field("unpriced_jobs", pa.int64()),  # GitHub only: finished jobs the estimate has no price for
        pa.field("cost_usd", MONEY),
        pa.field("cost_source", pa.string(), nullable=False),  # ledger / estimate
        pa.field("price_used", pa.string()),
    ]
)


class CostInputError(ValueError):
    """A source row the cost table cannot use; the message names the source, row and value."""


@dataclass
class CostWeek:
    table: pa.Table
    providers: list[str] = field(default_factory=list)  # the providers this week's table covers
    missing: list[str] = field(default_factory=list)  # the providers left out (no source)


def _decimal(value: str | None, places: int, where: str) -> Decimal | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        raise CostInputError(f"{where} is {value!r}, not a number") from None
    if not number.is_finite():
        raise CostInputError(f"{where} is {value!r}, not a finite number")
    with localcontext() as context:
        context.prec = 80
        if number != number.quantize(Decimal(1).scaleb(-places)):
            raise CostInputError(f"{where} is {value!r}: more than {places} decimal places")
    return number


def _team(teams: RepositoriesConfig | None, repository: str | None) -> str:
    if teams is None or repository is None:
        return NO_TEAM
    return teams.team_for_repository(repository) or NO_TEAM


def circleci_rows(
    rows: Iterable[Mapping[str, str | None]],
    teams: RepositoriesConfig | None,
    usd_per_credit: Decimal,
    source: str = "CircleCI usage",
) -> list[dict[str, Any]]:
    """Per (team, project): jobs, minutes, credits and their cost."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for number, row in enumerate(rows, start=1):
        repository = repository_from_vcs_url(row.get("VCS_URL"))
        project = repository or row.get("PROJECT_NAME") or row.get("PROJECT_ID") or UNKNOWN_PROJECT
        key = (_team(teams, repository), project)
        group = groups.setdefault(key, {"jobs": 0, "seconds": None, "credits": None})
        group["jobs"] += 1
        seconds = _decimal(
            row.get("JOB_RUN_SECONDS"), CREDIT_PLACES, f"{source}, row {number}: JOB_RUN_SECONDS"
        )
        if seconds is not None:
            group["seconds"] = (group["seconds"] or Decimal(0)) + max(Decimal(0), seconds)
        credits = _decimal(row.get("TOTAL_CREDITS"), CREDIT_PLACES, f"{source}, row {number}: TOTAL_CREDITS")
        if credits is not None:
            group["credits"] = (group["credits"] or Decimal(0)) + credits
    result = []
    for (team, project), group in groups.items():
        with localcontext() as context:
            context.prec = 80
            minutes = (
                None
                if group["seconds"] is None
                else (group["seconds"] / 60).quantize(
                    Decimal(1).scaleb(-MINUTE_PLACES), rounding=ROUND_HALF_EVEN
                )
            )
            cost = None if group["credits"] is None else group["credits"] * usd_per_credit
        result.append(
            {
                "provider": CIRCLECI,
                "team": team,
                "project": project,
                "jobs": group["jobs"],
                "minutes": minutes,
                "billable_minutes": None,
                "credits": group["credits"],
                "usd_per_credit": usd_per_credit,
                "estimated_cost_usd": None,
                "unpriced_jobs": None,
                "cost_usd": cost,
                "cost_source": ESTIMATE,
                "price_used": f"{usd_per_credit} USD per credit",
            }
        )
    return result


def ledger_net_by_repository(ledger: pa.Table) -> dict[str, tuple[str, str, Decimal]]:
    """lower-case owner/name (or '<org>/(no repository)') → (owner, project, net USD of its Actions items)."""
    totals: dict[str, tuple[str, str, Decimal]] = {}
    for row in ledger.select(
        ["account", "product", "organization_name", "repository_name", "net_amount"]
    ).to_pylist():
        if not is_actions(row["product"]):
            continue
        owner = row["organization_name"] or row["account"]
        project = (
            ledger_repository(row["repository_name"], row["organization_name"]) or f"{owner}/{NO_REPOSITORY}"
        )
        _, name, net = totals.get(project.lower(), (owner, project, Decimal(0)))
        totals[project.lower()] = (owner, name, net + (row["net_amount"] or Decimal(0)))
    return totals


def covered_organizations(ledger: pa.Table) -> set[str]:
    """The organisations (lower case) a ledger table speaks for: those asked, and those its items name."""
    covered = {name.lower() for name in ledger.column("organization_name").to_pylist() if name}
    for account_type, account in zip(
        ledger.column("account_type").to_pylist(), ledger.column("account").to_pylist(), strict=True
    ):
        if account_type == ORGANIZATION:
            covered.add(account.lower())
    return covered


def _rates_used(rows: list[dict[str, Any]]) -> str:
    used = sorted(
        {
            (r["runner_sku"] if r["runner_class"] == LARGER else r["runner_class"], r["rate_usd_per_minute"])
            for r in rows
            if r["billable_minutes"] and r["rate_usd_per_minute"] is not None
        }
    )
    if not used:
        return "rates table (no priced billable jobs)"
    return "rates table: " + ", ".join(f"{key} {rate.normalize():f} USD/min" for key, rate in used)


def github_rows(
    workflow_runs: pa.Table | None,
    ledger: pa.Table | None,
    teams: RepositoriesConfig | None,
    ledger_organizations: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Per (team, repository): jobs, minutes, the estimate, and the cost from the ledger where it covers the
    repository's organisation, else the estimate."""
    by_repository: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if workflow_runs is not None:
        for row in workflow_runs.select(
            [
                "repository",
                "team",
                "run_seconds",
                "billable_minutes",
                "runner_class",
                "runner_sku",
                "rate_usd_per_minute",
                "estimated_cost_usd",
            ]
        ).to_pylist():
            by_repository[row["repository"]].append(row)
    ledger_net = ledger_net_by_repository(ledger) if ledger is not None else {}
    if ledger is None:
        covered: set[str] = set()
    elif ledger_organizations is not None:
        covered = {o.lower() for o in ledger_organizations}
    else:
        covered = covered_organizations(ledger)

    result = []
    for repository, jobs in by_repository.items():
        estimate = sum(
            (j["estimated_cost_usd"] for j in jobs if j["estimated_cost_usd"] is not None), Decimal(0)
        )
        owner = repository.split("/", 1)[0].lower()
        in_ledger = owner in covered
        row = {
            "provider": GITHUB_ACTIONS,
            "team": jobs[0]["team"] or NO_TEAM,
            "project": repository,
            "jobs": len(jobs),
            "minutes": Decimal(
                sum(math.ceil(j["run_seconds"] / 60) for j in jobs if j["run_seconds"] is not None)
            ),
            "billable_minutes": sum(j["billable_minutes"] for j in jobs if j["billable_minutes"] is not None),
            "credits": None,
            "usd_per_credit": None,
            "estimated_cost_usd": estimate,
            "unpriced_jobs": sum(
                1 for j in jobs if j["estimated_cost_usd"] is None and j["run_seconds"] is not None
            ),
        }
        if in_ledger:
            _, _, net = ledger_net.pop(repository.lower(), (owner, repository, Decimal(0)))
            row.update(cost_usd=net, cost_source=LEDGER, price_used="GitHub billing ledger, net amount")
        else:
            row.update(cost_usd=estimate, cost_source=ESTIMATE, price_used=_rates_used(jobs))
        result.append(row)
    for owner, project, net in ledger_net.values():  # billed, but not archived (or not this week's runs)
        if owner.lower() not in covered:
            continue
        result.append(
            {
                "provider": GITHUB_ACTIONS,
                "team": NO_TEAM if project.endswith(NO_REPOSITORY) else _team(teams, project),
                "project": project,
                "jobs": None,
                "minutes": None,
                "billable_minutes": None,
                "credits": None,
                "usd_per_credit": None,
                "estimated_cost_usd": None,
                "unpriced_jobs": None,
                "cost_usd": net,
                "cost_source": LEDGER,
                "price_used": "GitHub billing ledger, net amount",
            }
        )
    return result


def weekly_cost_table(
    week: str | Week,
    *,
    circleci: Iterable[Mapping[str, str | None]] | None = None,
    workflow_runs: pa.Table | None = None,
    ledger: pa.Table | None = None,
    ledger_organizations: Collection[str] | None = None,
    teams: RepositoriesConfig | None = None,
    usd_per_credit: Decimal = DEFAULT_USD_PER_CREDIT,
    circleci_source: str = "CircleCI usage",
) -> CostWeek:
    """The week's cost table from whichever sources are given (None = not configured or not materialized).

    `circleci`: rows of the week's merged usage CSV (costs.circleci.read_usage_csv, or any row dicts);
    `workflow_runs`: the week's github_actions/workflow_runs table; `ledger`: the week's billing usage table,
    speaking for `ledger_organizations` (default: the organisations it was asked for or names)."""
    if not isinstance(usd_per_credit, Decimal) or not usd_per_credit.is_finite() or usd_per_credit < 0:
        raise CostInputError(f"the price per credit must be a decimal of 0 or more, not {usd_per_credit!r}")
    _decimal(str(usd_per_credit), CREDIT_PLACES, "the price per credit")
    week_start = Week.parse(week).monday
    rows: list[dict[str, Any]] = []
    providers: list[str] = []
    if circleci is not None:
        rows += circleci_rows(circleci, teams, usd_per_credit, circleci_source)
        providers.append(CIRCLECI)
    if workflow_runs is not None or ledger is not None:
        rows += github_rows(workflow_runs, ledger, teams, ledger_organizations)
        providers.append(GITHUB_ACTIONS)
    rows.sort(key=lambda r: (r["provider"], r["team"].lower(), r["project"].lower()))
    table = pa.Table.from_pylist([{"week_start": week_start, **r} for r in rows], schema=COST_SCHEMA)
    return CostWeek(table, providers, [p for p in PROVIDERS if p not in providers])


def cost_by_team(table: pa.Table) -> dict[str, Decimal]:
    """Total cost per team across providers (unknown costs count as 0), for plots and summaries."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for team, cost in zip(
        table.column("team").to_pylist(), table.column("cost_usd").to_pylist(), strict=True
    ):
        totals[team] += cost or Decimal(0)
    return dict(sorted(totals.items()))
