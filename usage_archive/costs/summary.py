"""What the Dagster UI shows of a week's cost table: each team's cost beside last week's, and the most expensive
workflows. Pure functions; money stays Decimal until it becomes text (two places) or a plotted number."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import pyarrow as pa

from usage_archive.costs.circleci import repository_from_vcs_url
from usage_archive.costs.weekly import CIRCLECI, ESTIMATE, GITHUB_ACTIONS, UNKNOWN_PROJECT, cost_by_team
from usage_archive.github_actions.metrics import markdown_table

CENT = Decimal("0.01")
TOTAL = "total"


def cents(amount: Decimal) -> Decimal:
    """Rounded to the cent (half to even), for display only: the table keeps every digit."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def usd(amount: Decimal | None) -> str:
    return "—" if amount is None else f"{cents(amount):,.2f}"


@dataclass(frozen=True)
class TeamChange:
    team: str
    this_week: Decimal
    last_week: Decimal | None  # None: last week's table is not archived

    @property
    def change(self) -> Decimal | None:
        return None if self.last_week is None else self.this_week - self.last_week

    @property
    def change_percent(self) -> Decimal | None:
        if self.last_week is None or self.last_week == 0:
            return None
        return (self.this_week - self.last_week) * 100 / self.last_week


def team_changes(this_week: pa.Table, last_week: pa.Table | None) -> list[TeamChange]:
    """Every team of either week (a team without cost this week shows 0), most expensive first."""
    now = cost_by_team(this_week)
    before = cost_by_team(last_week) if last_week is not None else None
    teams = set(now) | set(before or {})
    changes = [
        TeamChange(
            team,
            now.get(team, Decimal(0)),
            None if before is None else before.get(team, Decimal(0)),
        )
        for team in teams
    ]
    return sorted(changes, key=lambda c: (-c.this_week, c.team.lower()))


def signed_usd(amount: Decimal | None) -> str:
    """+1.50 / -0.30 / 0.00 / — (unknown), to the cent."""
    if amount is None:
        return "—"
    rounded = cents(amount)
    return f"{'+' if rounded > 0 else ''}{rounded:,.2f}"


def team_markdown(changes: list[TeamChange]) -> str:
    """team | this week | last week | change | change % (USD), with a total row."""
    rows = []
    for c in changes:
        percent = c.change_percent
        rows.append(
            [
                c.team,
                usd(c.this_week),
                usd(c.last_week),
                signed_usd(c.change),
                "—" if percent is None else f"{'+' if percent > 0 else ''}{percent:.1f} %",
            ]
        )
    total_now = sum((c.this_week for c in changes), Decimal(0))
    known_before = [c.last_week for c in changes if c.last_week is not None]
    total_before = sum(known_before, Decimal(0)) if len(known_before) == len(changes) and changes else None
    total_change = None if total_before is None else total_now - total_before
    rows.append([f"**{TOTAL}**", f"**{usd(total_now)}**", usd(total_before), signed_usd(total_change), ""])
    return markdown_table(["team", "this week (USD)", "last week (USD)", "change (USD)", "change"], rows)


def plotted_costs(changes: list[TeamChange]) -> dict[str, float]:
    """`cost_usd/<team>` and `cost_usd/total`, in dollars to the cent: numbers the UI plots week over week."""
    values = {f"cost_usd/{c.team}": float(cents(c.this_week)) for c in changes}
    values[f"cost_usd/{TOTAL}"] = float(cents(sum((c.this_week for c in changes), Decimal(0))))
    return values


# -- the most expensive workflows ------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkflowCost:
    provider: str
    project: str  # owner/name where known
    workflow: str
    jobs: int
    cost_usd: Decimal
    cost_source: str  # always `estimate`: neither ledger states a cost per workflow


class WorkflowTally:
    """Cost per (provider, project, workflow), fed one source row at a time."""

    def __init__(self) -> None:
        self._totals: dict[tuple[str, str, str], tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))

    def add(self, provider: str, project: str, workflow: str, cost: Decimal | None) -> None:
        """One job of a workflow (its cost unknown: counted, nothing added)."""
        jobs, total = self._totals[(provider, project, workflow)]
        self._totals[(provider, project, workflow)] = (jobs + 1, total + (cost or Decimal(0)))

    def tally_circleci(
        self, rows: Iterable[Mapping[str, str | None]], usd_per_credit: Decimal
    ) -> Iterator[Mapping[str, str | None]]:
        """The rows, unchanged, each counted on the way through (so the CSV is read once)."""
        for row in rows:
            project = (
                repository_from_vcs_url(row.get("VCS_URL"))
                or row.get("PROJECT_NAME")
                or row.get("PROJECT_ID")
                or UNKNOWN_PROJECT
            )
            credits = row.get("TOTAL_CREDITS")
            cost = None
            if credits not in (None, ""):
                try:
                    cost = Decimal(credits) * usd_per_credit
                except ArithmeticError:
                    cost = None  # the cost table refuses the row with its line; nothing to add here
            self.add(CIRCLECI, project, row.get("WORKFLOW_NAME") or "(no workflow)", cost)
            yield row

    def tally_github(self, workflow_runs: pa.Table) -> None:
        for row in workflow_runs.select(
            ["repository", "workflow_name", "workflow_path", "estimated_cost_usd"]
        ).to_pylist():
            name = row["workflow_name"] or row["workflow_path"] or "(no workflow)"
            self.add(GITHUB_ACTIONS, row["repository"], name, row["estimated_cost_usd"])

    def most_expensive(self, limit: int = 10) -> list[WorkflowCost]:
        ranked = sorted(
            self._totals.items(), key=lambda item: (-item[1][1], item[0][1].lower(), item[0][2].lower())
        )
        return [
            WorkflowCost(provider, project, workflow, jobs, cost, ESTIMATE)
            for (provider, project, workflow), (jobs, cost) in ranked[:limit]
        ]


def workflows_markdown(workflows: list[WorkflowCost]) -> str:
    return markdown_table(
        ["provider", "project", "workflow", "jobs", "estimated cost (USD)"],
        [[w.provider, w.project, w.workflow, w.jobs, usd(w.cost_usd)] for w in workflows],
    )
