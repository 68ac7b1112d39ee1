"""What the UI shows of a week's costs: team changes against last week, plotted numbers, the top workflows."""

from __future__ import annotations

from decimal import Decimal

from usage_archive.costs.summary import (
    WorkflowTally,
    plotted_costs,
    signed_usd,
    team_changes,
    team_markdown,
    workflows_markdown,
)
from usage_archive.costs.weekly import weekly_cost_table
from usage_archive_tests.costs.test_costs import TEAMS, WEEK, export_row


def week(*rows: dict) -> object:
    return weekly_cost_table(WEEK, circleci=list(rows), teams=TEAMS).table


def test_a_team_new_this_week_and_one_gone_since_last_week() -> None:
    now = week(
        export_row("1", "api-server", "10000"),
        export_row("2", "tools", "1", VCS_URL="https://github.com/octo/tools"),
    )
    before = week(export_row("3", "web-app", "500", VCS_URL="https://github.com/octo/web"))
    changes = team_changes(now, before)
    assert [(c.team, c.this_week, c.last_week, c.change) for c in changes] == [
        ("platform", Decimal("6"), Decimal(0), Decimal("6")),
        ("core", Decimal("0.0006"), Decimal(0), Decimal("0.0006")),
        ("frontend", Decimal(0), Decimal("0.3"), Decimal("-0.3")),  # gone this week: still listed, at 0
    ]
    assert changes[0].change_percent is None  # from nothing: no percentage
    table = team_markdown(changes).split("\n")
    assert table[4] == "| frontend | 0.00 | 0.30 | -0.30 | -100.0 % |"
    assert table[5] == "| **total** | **6.00** | 0.30 | +5.70 |  |"
    assert plotted_costs(changes) == {
        "cost_usd/platform": 6.0,
        "cost_usd/core": 0.0,
        "cost_usd/frontend": 0.0,
        "cost_usd/total": 6.0,
    }
    assert [signed_usd(v) for v in (Decimal("0.004"), Decimal("-0.006"), None)] == ["0.00", "-0.01", "—"]


def test_the_most_expensive_workflows_across_providers() -> None:
    tally = WorkflowTally()
    rows = [
        export_row("1", "api-server", "1000", WORKFLOW_NAME="build"),
        export_row("2", "api-server", "1000", WORKFLOW_NAME="build"),
        export_row("3", "api-server", "\\N", WORKFLOW_NAME="lint"),
        export_row("4", "web-app", "100", WORKFLOW_NAME="\\N"),
    ]
    rows[2]["TOTAL_CREDITS"] = None
    rows[3]["WORKFLOW_NAME"] = None
    assert list(tally.tally_circleci(rows, Decimal("0.0006"))) == rows  # passed through unchanged
    tally.add("github_actions", "octo/api", "Nightly", Decimal("1.5"))
    tally.add("github_actions", "octo/api", "Nightly", None)  # unfinished: counted, no cost
    top = tally.most_expensive(3)
    assert [(w.provider, w.project, w.workflow, w.jobs, w.cost_usd) for w in top] == [
        ("github_actions", "octo/api", "Nightly", 2, Decimal("1.5")),
        ("circleci", "example/api-server", "build", 2, Decimal("1.2000")),
        ("circleci", "example/web-app", "(no workflow)", 1, Decimal("0.0600")),
    ]
    assert "| circleci | example/api-server | build | 2 | 1.20 |" in workflows_markdown(top)
