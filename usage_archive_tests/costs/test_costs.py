"""The weekly cost table across providers, the CircleCI CSV it reads, and the reconciliation with the ledger."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from usage_archive.circleci.columns import KNOWN_COLUMNS, UsageExportFormatError
from usage_archive.costs.circleci import read_usage_csv, repository_from_vcs_url
from usage_archive.costs.reconcile import compare, describe, disagreements, tolerance_for
from usage_archive.costs.weekly import (
    COST_SCHEMA,
    CostInputError,
    cost_by_team,
    weekly_cost_table,
)
from usage_archive.github_actions.archive_file import rows_table
from usage_archive.github_actions.billing_usage import UsageReport, billing_usage_table
from usage_archive.github_actions.config import parse_repositories
from usage_archive.github_actions.rows import job_row
from usage_archive.github_actions.runners import RunnerMap
from usage_archive_tests.fakes.github_api import make_job, make_run, usage_item

WEEK = "2026-01-05"
MONDAY = datetime(2026, 1, 5, tzinfo=timezone.utc)
TEAMS = parse_repositories("""\
repositories:
  - repository: example/api-server
    team: platform
  - repository: octo/web
    team: frontend
organizations:
  - organization: octo
    team: core
""")


# -- CircleCI: the export as CircleCI writes it --------------------------------------------------------------------
def export_row(job: str, project: str, credits: str, seconds: str = "61", **overrides: str) -> dict[str, str]:
    values = {c: "\\N" for c in KNOWN_COLUMNS}
    values.update(
        {
            "ORGANIZATION_ID": "5a3c9e0e-1b2f-4c3d-9e8f-00000000cafe",
            "ORGANIZATION_NAME": "Example Org",
            "PROJECT_ID": f"proj-{project}",
            "PROJECT_NAME": project,
            "VCS_NAME": "github",
            "VCS_URL": f"https://github.com/example/{project}",
            "VCS_BRANCH": "main",
            "PIPELINE_ID": f"p-{job}",
            "PIPELINE_NUMBER": "42",
            "PIPELINE_CREATED_AT": "2026-01-06 09:59:00.000",
            "WORKFLOW_ID": f"w-{job}",
            "WORKFLOW_NAME": "build-test",
            "JOB_NAME": "build",
            "JOB_RUN_NUMBER": "7",
            "JOB_ID": job,
            "JOB_RUN_DATE": "2026-01-06",
            "JOB_BUILD_STATUS": "success",
            "RESOURCE_CLASS": "medium",
            "OPERATING_SYSTEM": "linux",
            "EXECUTOR": "docker",
            "JOB_RUN_SECONDS": seconds,
            "COMPUTE_CREDITS": credits,
            "TOTAL_CREDITS": credits,
        }
    )
    values.update(overrides)
    return values


def export_csv(rows: list[dict[str, str]], bom: bool = False) -> str:
    """RFC 4180 with every field quoted and NULL as a quoted \\N, as CircleCI's sample export is written."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(KNOWN_COLUMNS)
    writer.writerows([[r[c] for c in KNOWN_COLUMNS] for r in rows])
    return ("\ufeff" if bom else "") + out.getvalue()


def read(text: str) -> list[dict[str, str | None]]:
    return list(read_usage_csv(io.StringIO(text, newline=""), source="usage-data.csv"))


def test_the_csv_reader_reads_rfc_4180_with_nulls_bom_and_doubled_quotes() -> None:
    rows = read(
        export_csv(
            [
                export_row("1", "api-server", "0.1", JOB_NAME='deploy "prod", eu'),
                export_row("2", "web-app", "\\N", VCS_URL="\\N"),
            ],
            bom=True,
        )
    )
    assert rows[0]["ORGANIZATION_ID"] == "5a3c9e0e-1b2f-4c3d-9e8f-00000000cafe"  # the BOM is not in the name
    assert rows[0]["JOB_NAME"] == 'deploy "prod", eu'
    assert (
        rows[1]["TOTAL_CREDITS"] is None and rows[1]["VCS_URL"] is None and rows[0]["LEASE_CREDITS"] is None
    )


def test_a_backslash_escaped_quote_is_refused_with_the_line() -> None:
    text = export_csv([export_row("1", "api", "0.1"), export_row("2", "api", "0.2", JOB_NAME="QQQ")])
    text = text.replace('"QQQ"', '"deploy \\"prod\\""')
    with pytest.raises(UsageExportFormatError, match=r"usage-data.csv, line 3: "):
        read(text)


def test_a_csv_without_the_cost_columns_is_refused() -> None:
    with pytest.raises(UsageExportFormatError, match="lacks the column.s. TOTAL_CREDITS"):
        read('"VCS_URL","JOB_ID"\n"https://github.com/a/b","1"\n')
    with pytest.raises(UsageExportFormatError, match="empty"):
        read("")


@pytest.mark.parametrize(
    ("url", "repository"),
    [
        ("https://github.com/example/api-server", "example/api-server"),
        ("https://github.com/Octo/Web.git", "Octo/Web"),
        ("git@github.com:octo/api.git", "octo/api"),
        ("https://bitbucket.org/team/repo", "team/repo"),
        ("\\N", None),
        (None, None),
        ("api-server", None),
        ("https://github.com/octo", None),
    ],
)
def test_vcs_url_to_owner_and_name(url: str | None, repository: str | None) -> None:
    assert repository_from_vcs_url(url) == repository


def test_circleci_credits_become_dollars_exact_to_the_cent() -> None:
    rows = [
        export_row(str(n), "api-server", credits)
        for n, credits in enumerate(["24999.9", "0.1", "0.2", "0.3", "1.005", "12.345", "0.07"])
    ]
    week = weekly_cost_table(WEEK, circleci=read(export_csv(rows)), teams=TEAMS)
    (row,) = week.table.to_pylist()
    assert row["credits"] == Decimal("25013.92")  # 0.1 + 0.2 + 0.3 … added as decimals, not floats
    assert row["cost_usd"] == Decimal("15.008352")  # 25,013.92 × 0.0006, exact
    assert row["cost_usd"].quantize(Decimal("0.01")) == Decimal("15.01")
    assert (row["usd_per_credit"], row["price_used"], row["cost_source"]) == (
        Decimal("0.0006"),
        "0.0006 USD per credit",
        "estimate",  # credits × a contract price: an estimate, not a figure CircleCI states
    )
    assert (row["team"], row["project"], row["jobs"], row["minutes"]) == (
        "platform",
        "example/api-server",
        7,
        Decimal("7.1167"),
    )
    exact = weekly_cost_table(WEEK, circleci=[export_row("1", "api-server", "25000")], teams=TEAMS)
    assert exact.table.column("cost_usd").to_pylist() == [Decimal("15.00")]
    contract = weekly_cost_table(
        WEEK, circleci=[export_row("1", "api-server", "25000")], usd_per_credit=Decimal("0.00055")
    )
    assert contract.table.to_pylist()[0]["cost_usd"] == Decimal("13.75")
    assert contract.table.to_pylist()[0]["price_used"] == "0.00055 USD per credit"


def test_a_week_with_circleci_only() -> None:
    rows = [
        export_row("1", "api-server", "10"),
        export_row("2", "api-server", "\\N", JOB_RUN_SECONDS="\\N"),
        export_row("3", "web-app", "5"),
        export_row("4", "tools", "2", VCS_URL="https://github.com/octo/tools", PROJECT_NAME="tools"),
        export_row("5", "legacy", "1", VCS_URL="\\N"),
    ]
    week = weekly_cost_table(WEEK, circleci=read(export_csv(rows)), teams=TEAMS)
    assert (week.providers, week.missing) == (["circleci"], ["github_actions"])
    assert week.table.schema.equals(COST_SCHEMA)
    got = {
        (r["team"], r["project"]): (r["jobs"], r["credits"], r["cost_usd"]) for r in week.table.to_pylist()
    }
    assert got == {
        ("platform", "example/api-server"): (
            2,
            Decimal(10),
            Decimal("0.006"),
        ),  # the NULL credits add nothing
        ("(no team)", "example/web-app"): (1, Decimal(5), Decimal("0.003")),
        ("core", "octo/tools"): (1, Decimal(2), Decimal("0.0012")),  # the organisation's team
        ("(no team)", "legacy"): (1, Decimal(1), Decimal("0.0006")),  # no VCS_URL: the project name
    }
    assert set(week.table.column("week_start").to_pylist()) == {date(2026, 1, 5)}
    assert cost_by_team(week.table) == {
        "(no team)": Decimal("0.0036"),
        "core": Decimal("0.0012"),
        "platform": Decimal("0.006"),
    }
    nothing = weekly_cost_table(WEEK)
    assert (nothing.providers, nothing.missing, nothing.table.num_rows) == (
        [],
        ["circleci", "github_actions"],
        0,
    )


def test_bad_circleci_values_are_refused_by_row() -> None:
    with pytest.raises(CostInputError, match="row 2: TOTAL_CREDITS is 'lots', not a number"):
        weekly_cost_table(WEEK, circleci=[export_row("1", "a", "1"), export_row("2", "a", "lots")])
    with pytest.raises(CostInputError, match="price per credit"):
        weekly_cost_table(WEEK, circleci=[], usd_per_credit=Decimal("-1"))


# -- GitHub: the estimate, the ledger, and the two side by side ---------------------------------------------------
def github_week() -> pa.Table:
    """octo/web (private, 3 jobs of 61 s on ubuntu-latest), octo/site (public, free + a larger runner), and
    example/api-server (private, 10 macOS jobs of 10 minutes) — the week's workflow_runs."""
    rows = []
    runners = RunnerMap(larger={"linux-8-core": "linux_8_core"})
    for repository, team, visibility, jobs in (
        ("octo/web", "frontend", "private", [{"run_seconds": 61}] * 3),
        (
            "octo/site",
            "core",
            "public",
            [
                {"run_seconds": 61},
                {"run_seconds": 601, "labels": ["linux-8-core"], "runner_group": "Default Larger Runners"},
            ],
        ),
        ("example/api-server", "platform", "private", [{"run_seconds": 600, "labels": ["macos-14"]}] * 10),
    ):
        run = make_run(len(rows) + 1, MONDAY + timedelta(hours=len(rows) + 1), repository=repository)
        rows += [
            job_row(
                repository,
                team,
                run,
                make_job(len(rows) * 100 + n, run, **job),
                visibility=visibility,
                runners=runners,
            )
            for n, job in enumerate(jobs)
        ]
    return rows_table(rows)


def ledger(*items: dict, organization: str = "octo") -> pa.Table:
    return billing_usage_table([UsageReport("organization", organization, date(2026, 1, 6), list(items))])


def test_github_costs_from_the_estimate_without_a_ledger() -> None:
    week = weekly_cost_table(WEEK, workflow_runs=github_week(), teams=TEAMS)
    assert (week.providers, week.missing) == (["github_actions"], ["circleci"])
    got = {r["project"]: r for r in week.table.to_pylist()}
    assert {
        p: (r["team"], r["jobs"], r["minutes"], r["billable_minutes"], r["cost_usd"], r["cost_source"])
        for p, r in got.items()
    } == {
        "octo/web": ("frontend", 3, Decimal(6), 6, Decimal("0.036"), "estimate"),
        "octo/site": ("core", 2, Decimal(13), 11, Decimal("0.242"), "estimate"),  # the larger runner bills
        "example/api-server": ("platform", 10, Decimal(100), 100, Decimal("6.2"), "estimate"),
    }
    assert got["octo/site"]["price_used"] == "rates table: linux_8_core 0.022 USD/min"
    assert got["example/api-server"]["price_used"] == "rates table: standard_macos 0.062 USD/min"


def test_github_costs_from_the_ledger_where_it_covers_the_organisation() -> None:
    billed = ledger(
        usage_item(
            "2026-01-06", "octo/web", quantity="6", price="0.006", discount="0.036"
        ),  # included minutes
        usage_item("2026-01-06", "octo/site", sku="linux_8_core", quantity="11", price="0.022"),
        usage_item(
            "2026-01-06",
            "site",
            sku="actions_storage",
            unit="GigabyteHours",
            quantity="0.5",
            price="0.00033602",
        ),  # a repository named without its owner
        usage_item("2026-01-06", "octo/old-tool", quantity="3", price="0.006"),  # billed, not archived
        usage_item(
            "2026-01-06", None, product="copilot", sku="copilot_for_business", quantity="1", price="19"
        ),
    )
    week = weekly_cost_table(WEEK, workflow_runs=github_week(), ledger=billed, teams=TEAMS)
    got = {
        r["project"]: (r["team"], r["jobs"], r["cost_usd"], r["cost_source"], r["estimated_cost_usd"])
        for r in week.table.to_pylist()
    }
    assert got == {
        "octo/web": ("frontend", 3, Decimal(0), "ledger", Decimal("0.036")),
        "octo/site": ("core", 2, Decimal("0.242") + Decimal("0.00016801"), "ledger", Decimal("0.242")),
        "octo/old-tool": ("core", None, Decimal("0.018"), "ledger", None),
        # another organisation: the ledger does not speak for it, so the estimate stands
        "example/api-server": ("platform", 10, Decimal("6.2"), "estimate", Decimal("6.2")),
    }
    assert "copilot" not in str(week.table.column("price_used").to_pylist())
    # the ledger speaks for the organisations named, even one it billed nothing
    everyone = weekly_cost_table(
        WEEK,
        workflow_runs=github_week(),
        ledger=billed,
        teams=TEAMS,
        ledger_organizations=["octo", "example"],
    )
    api = next(r for r in everyone.table.to_pylist() if r["project"] == "example/api-server")
    assert (api["cost_usd"], api["cost_source"]) == (Decimal(0), "ledger")


def test_both_providers_side_by_side_by_team() -> None:
    week = weekly_cost_table(
        WEEK, circleci=[export_row("1", "api-server", "25000")], workflow_runs=github_week(), teams=TEAMS
    )
    assert week.providers == ["circleci", "github_actions"] and week.missing == []
    assert [(r["provider"], r["project"]) for r in week.table.to_pylist()] == [
        ("circleci", "example/api-server"),
        ("github_actions", "octo/site"),
        ("github_actions", "octo/web"),
        ("github_actions", "example/api-server"),
    ]
    assert cost_by_team(week.table) == {
        "core": Decimal("0.242"),
        "frontend": Decimal("0.036"),
        "platform": Decimal("21.2"),
    }


# -- reconciliation --------------------------------------------------------------------------------------------------
def test_reconciliation_flags_repositories_where_ledger_and_estimate_disagree() -> None:
    billed = ledger(
        usage_item("2026-01-06", "octo/web", quantity="6", price="0.006", discount="0.036"),  # agrees (gross)
        usage_item(
            "2026-01-06", "octo/site", sku="linux_8_core", quantity="110", price="0.022"
        ),  # 2.42 vs 0.242
        usage_item(
            "2026-01-06",
            "octo/site",
            sku="actions_storage",
            unit="GigabyteHours",
            quantity="900",
            price="0.01",
        ),  # storage: not runner time, never compared
    )
    api = ledger(
        usage_item(
            "2026-01-06",
            "example/api-server",
            sku="actions_macos",
            quantity="100",
            price="0.062",
            gross="6.30",
            organization="example",
        )
    )  # 0.10 off: within 1 USD
    both = pa.concat_tables([billed, api])
    flagged = disagreements(github_week(), both)
    assert [(c.repository, c.estimated_usd, c.ledger_gross_usd) for c in flagged] == [
        ("octo/site", Decimal("0.242"), Decimal("2.42"))
    ]
    assert flagged[0].difference_usd == Decimal("-2.178")
    assert describe(flagged[0]) == (
        "octo/site: estimated 0.24 USD, ledger gross 2.42 USD (difference -2.18, tolerance 1.00)"
    )
    everything = {c.repository: c.disagrees for c in compare(github_week(), both)}
    assert everything == {"example/api-server": False, "octo/site": True, "octo/web": False}


def test_reconciliation_tolerance_is_the_larger_of_1_usd_and_2_percent() -> None:
    assert tolerance_for(Decimal("10")) == Decimal("1")
    assert tolerance_for(Decimal("500")) == Decimal("10.00")
    week = github_week()  # example/api-server estimates 6.2

    def flagged_at(gross: str) -> bool:
        billed = ledger(usage_item("2026-01-06", "example/api-server", gross=gross, organization="example"))
        return bool(disagreements(week, billed, repositories=["example/api-server"]))

    assert not flagged_at("7.2") and flagged_at("7.21") and not flagged_at("5.2") and flagged_at("5.19")


def test_reconciliation_limited_to_the_archived_repositories_and_naming_unpriced_jobs() -> None:
    run = make_run(9, MONDAY, repository="octo/gpu")
    unmapped = rows_table(
        [
            job_row(
                "octo/gpu",
                None,
                run,
                make_job(900, run, labels=["gpu-8-core"], run_seconds=600, runner_group="Default"),
                visibility="private",
            )
        ]
    )
    billed = ledger(
        usage_item("2026-01-06", "octo/gpu", sku="linux_8_core", quantity="10", price="0.022"),
        usage_item("2026-01-06", "octo/not-archived", quantity="1000", price="0.006"),
    )
    (only,) = disagreements(unmapped, billed, repositories=["octo/gpu"], tolerance_usd=Decimal("0.1"))
    assert (only.repository, only.estimated_usd, only.ledger_gross_usd, only.unpriced_jobs) == (
        "octo/gpu",
        Decimal(0),
        Decimal("0.22"),
        1,
    )
    assert "1 billable jobs have no rate" in describe(only)
    assert [c.repository for c in disagreements(unmapped, billed)] == ["octo/not-archived"]
