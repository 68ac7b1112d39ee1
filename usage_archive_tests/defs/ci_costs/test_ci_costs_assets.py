"""`ci_costs/weekly_by_team` materialized in-process from what a real archive store holds: CircleCI's usage CSV
(as CircleCI writes it), GitHub's workflow runs and billing ledger (collected from the fake GitHub API)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from usage_archive.archive.layout import CircleCILayout, ci_costs_key
from usage_archive.costs.week import CostResult, cost_file_bytes, read_cost_file
from usage_archive.defs.ci_costs.assets import WEEKLY_BY_TEAM, build_ci_costs_asset, weekly_by_team
from usage_archive.defs.ci_costs.checks import TOTALS_MATCH_SOURCES, build_ci_costs_checks
from usage_archive.defs.circleci.assets import USAGE_CSV, usage_csv
from usage_archive.defs.github_actions.assets import (
    BILLING_USAGE_KEY,
    WORKFLOW_RUNS_KEY,
    billing_usage,
    workflow_runs,
)
from usage_archive.periods import Week
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.circleci import CircleCIResource
from usage_archive.resources.github import GitHubResource
from usage_archive_tests.costs.test_costs import export_csv, export_row
from usage_archive_tests.defs.github_actions.conftest import WEEK, github_resource
from usage_archive_tests.defs.github_actions.test_github_billing_usage_asset import bill
from usage_archive_tests.fakes.github_api import FakeGitHub

THIS_WEEK = Week.parse(WEEK)
LAST_WEEK = THIS_WEEK.previous()
FLAT = CircleCILayout(())
TEAMS_YML = """\
repositories:
  - repository: octo/api
    team: platform
  - repository: example/api-server
    team: platform
  - repository: example/web-app
    team: frontend
organizations:
  - organization: octo-labs
    team: labs
"""


@pytest.fixture
def teams_file(tmp_path: Path) -> Path:
    path = tmp_path / "teams.yml"
    path.write_text(TEAMS_YML)
    return path


def put_circleci(store: ArchiveStoreResource, week: Week, rows: list[dict[str, str]]) -> None:
    """The week's merged usage CSV where circleci/usage_csv stores it (one organisation: no folder)."""
    store.get_store().put_bytes(FLAT.csv_key("", week), export_csv(rows).encode())


def circleci_week(scale: str = "1") -> list[dict[str, str]]:
    """api-server (platform): 25,000 + 5,000 credits; web-app (frontend): 1,000; a project without a VCS URL."""
    k = Decimal(scale)
    return [
        export_row("1", "api-server", str(25000 * k), WORKFLOW_NAME="build-test"),
        export_row("2", "api-server", str(5000 * k), WORKFLOW_NAME="nightly"),
        export_row("3", "web-app", str(1000 * k), WORKFLOW_NAME="build-test"),
        export_row("4", "legacy", str(10 * k), VCS_URL="\\N"),
    ]


def costs_run(
    store: ArchiveStoreResource,
    teams_file: Path,
    week: Week = THIS_WEEK,
    instance: dg.DagsterInstance | None = None,
    asset: dg.AssetsDefinition = weekly_by_team,
    layout: CircleCILayout = FLAT,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset, build_ci_costs_checks(layout)],
        partition_key=week.key,
        raise_on_error=False,
        instance=instance,
        resources={"archive_store": store, "github": GitHubResource(repositories_file=str(teams_file))},
    )


def metadata_of(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = result.asset_materializations_for_node("ci_costs__weekly_by_team")
    return {k: v.value for k, v in event.metadata.items()}


def stored(store: ArchiveStoreResource, week: Week = THIS_WEEK) -> tuple[pa.Table, dict]:
    return read_cost_file(store.get_store().get_bytes(ci_costs_key(week)))


def test_a_week_with_circleci_only(local_store: ArchiveStoreResource, teams_file: Path) -> None:
    put_circleci(local_store, THIS_WEEK, circleci_week())
    result = costs_run(local_store, teams_file)
    assert result.success  # GitHub is not configured: left out, never a failure

    table, info = stored(local_store)
    assert set(table.column("provider").to_pylist()) == {"circleci"}
    rows = {r["project"]: r for r in table.to_pylist()}
    assert (rows["example/api-server"]["team"], rows["example/api-server"]["cost_usd"]) == (
        "platform",
        Decimal(18),
    )
    assert (rows["example/web-app"]["team"], rows["example/web-app"]["cost_usd"]) == (
        "frontend",
        Decimal("0.6"),
    )
    assert (rows["legacy"]["team"], rows["legacy"]["cost_usd"]) == ("(no team)", Decimal("0.006"))
    assert set(table.column("cost_source").to_pylist()) == {"estimate"}
    assert (info["providers"], info["missing_providers"]) == (["circleci"], ["github_actions"])

    metadata = metadata_of(result)
    assert (metadata["providers"], metadata["missing_providers"]) == (["circleci"], ["github_actions"])
    assert "GitHub Actions: neither workflow runs nor the billing ledger archived" in metadata["notes"]
    assert metadata["usd_per_credit"] == "0.0006"
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[TOTALS_MATCH_SOURCES].passed


def test_one_plotted_number_per_team_and_a_total(local_store: ArchiveStoreResource, teams_file: Path) -> None:
    put_circleci(local_store, THIS_WEEK, circleci_week())
    metadata = metadata_of(costs_run(local_store, teams_file))
    plotted = {k: v for k, v in metadata.items() if k.startswith("cost_usd/")}
    assert plotted == {
        "cost_usd/platform": 18.0,
        "cost_usd/frontend": 0.6,
        "cost_usd/(no team)": 0.01,  # 0.006 USD, shown to the cent
        "cost_usd/total": 18.61,
    }
    assert all(isinstance(v, float) for v in plotted.values())  # numbers: the UI plots them over the weeks


def test_this_week_beside_last_week_and_the_most_expensive_workflows(
    local_store: ArchiveStoreResource, teams_file: Path
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    put_circleci(local_store, LAST_WEEK, circleci_week("0.5"))
    assert costs_run(local_store, teams_file, LAST_WEEK, instance).success
    first = metadata_of(costs_run(local_store, teams_file, LAST_WEEK, instance))
    assert "| platform | 9.00 | — | — | — |" in first["cost_by_team"]  # the week before is not archived

    put_circleci(local_store, THIS_WEEK, circleci_week())
    metadata = metadata_of(costs_run(local_store, teams_file, THIS_WEEK, instance))
    lines = metadata["cost_by_team"].split("\n")
    assert lines[0] == "| team | this week (USD) | last week (USD) | change (USD) | change |"
    assert lines[2:] == [
        "| platform | 18.00 | 9.00 | +9.00 | +100.0 % |",
        "| frontend | 0.60 | 0.30 | +0.30 | +100.0 % |",
        "| (no team) | 0.01 | 0.00 | 0.00 | +100.0 % |",
        "| **total** | **18.61** | 9.30 | +9.30 |  |",
    ]
    workflows = metadata["most_expensive_workflows"].split("\n")
    assert workflows[2:4] == [
        "| circleci | example/api-server | build-test | 1 | 15.00 |",
        "| circleci | example/api-server | nightly | 1 | 3.00 |",
    ]
    # each partition keeps its own figures: the plot has one point per week
    history = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=WEEKLY_BY_TEAM, asset_partitions=[LAST_WEEK.key]), limit=1
    ).records[0]
    assert history.asset_materialization.metadata["cost_usd/total"].value == 9.3


def test_github_costs_from_the_ledger_beside_circleci(
    github: FakeGitHub,
    repositories_file: Path,
    local_store: ArchiveStoreResource,
    teams_file: Path,
) -> None:
    bill(github)
    sources = dg.materialize(
        [workflow_runs, billing_usage],
        partition_key=WEEK,
        resources={"archive_store": local_store, "github": github_resource(github, repositories_file)},
    )
    assert sources.success
    put_circleci(local_store, THIS_WEEK, circleci_week())
    result = costs_run(local_store, teams_file)
    assert result.success
    table, info = stored(local_store)
    github_rows = {r["project"]: r for r in table.to_pylist() if r["provider"] == "github_actions"}
    api = github_rows["octo/api"]
    # the ledger's net for octo/api: Linux from included minutes (0), Windows 0.04, macOS 0.62 (not Copilot)
    assert (api["team"], api["jobs"], api["cost_usd"], api["cost_source"]) == (
        "platform",
        4,
        Decimal("0.66"),
        "ledger",
    )
    assert api["estimated_cost_usd"] == Decimal("0.678")
    tool = github_rows["octo-labs/tool"]  # covered by octo-labs' (empty) ledger: 0 from the ledger
    assert (tool["team"], tool["cost_usd"], tool["cost_source"]) == ("labs", Decimal(0), "ledger")
    assert info["providers"] == ["circleci", "github_actions"] and info["missing_providers"] == []
    assert sorted(info["sources"]) == [
        "circleci-usage-data/usage-data-2026-01-05-to-2026-01-12.csv",
        "github-actions-usage/billing-usage-2026-01-05-to-2026-01-12.parquet",
        "github-actions-usage/workflow-runs-2026-01-05-to-2026-01-12.parquet",
    ]
    metadata = metadata_of(result)
    assert metadata["cost_usd/platform"] == 18.66  # CircleCI 18.00 + GitHub 0.66
    assert "| github_actions | octo/api | Nightly | 1 | 0.62 |" in metadata["most_expensive_workflows"]
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[TOTALS_MATCH_SOURCES].passed


def test_the_check_fails_on_a_table_that_no_longer_adds_up(
    local_store: ArchiveStoreResource, teams_file: Path
) -> None:
    put_circleci(local_store, THIS_WEEK, circleci_week())
    assert costs_run(local_store, teams_file).success
    store = local_store.get_store()
    checks = build_ci_costs_checks(FLAT)
    defs = dg.Definitions(
        assets=[weekly_by_team],
        asset_checks=[checks],
        jobs=[dg.define_asset_job("verify_costs", selection=dg.AssetSelection.checks(checks))],
        resources={"archive_store": local_store, "github": GitHubResource(repositories_file=str(teams_file))},
    )

    def verify() -> dg.AssetCheckEvaluation:
        result = defs.resolve_job_def("verify_costs").execute_in_process(
            tags={"dagster/partition": WEEK}, raise_on_error=False
        )
        (evaluation,) = result.get_asset_check_evaluations()
        assert result.success == evaluation.passed  # blocking: the run fails with the check
        return evaluation

    assert verify().passed
    table, info = stored(local_store)

    # a row dropped by a careless rewrite
    dropped = table.filter(pc.not_equal(table.column("project"), "example/web-app"))
    result = CostResult(THIS_WEEK, dropped, info["providers"], [], [], info["sources"], Decimal("0.0006"), [])
    store.put_bytes(ci_costs_key(THIS_WEEK), cost_file_bytes(result))
    evaluation = verify()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "CircleCI: the CSVs hold 4 distinct jobs, the table 3" in evaluation.description
    assert "TOTAL_CREDITS add up to 31010, the table's to 30010" in evaluation.description

    # a source stored after the table was built
    assert costs_run(local_store, teams_file).success
    put_circleci(local_store, THIS_WEEK, [*circleci_week(), export_row("5", "web-app", "100")])
    evaluation = verify()
    assert not evaluation.passed
    assert "the CSVs hold 5 distinct jobs, the table 4" in evaluation.description


def test_no_source_at_all_is_an_empty_table_not_a_failure(
    local_store: ArchiveStoreResource, tmp_path: Path
) -> None:
    result = costs_run(local_store, tmp_path / "no-repositories.yml")
    assert result.success
    table, info = stored(local_store)
    assert table.num_rows == 0 and info["providers"] == []
    metadata = metadata_of(result)
    assert metadata["cost_usd/total"] == 0.0
    assert metadata["teams_from"].endswith("does not exist: every project is (no team)")


def test_several_circleci_organisations_add_up_and_a_missing_one_is_named(
    local_store: ArchiveStoreResource, teams_file: Path
) -> None:
    layout = CircleCILayout(("org-a", "org-b"))
    store = local_store.get_store()
    store.put_bytes(layout.csv_key("org-a", THIS_WEEK), export_csv(circleci_week()).encode())
    asset = build_ci_costs_asset(layout, usd_per_credit=Decimal("0.00055"))
    result = costs_run(local_store, teams_file, asset=asset, layout=layout)
    assert result.success
    metadata = metadata_of(result)
    assert "CircleCI organisation org-b: no usage CSV for the week" in metadata["notes"]
    assert metadata["cost_usd/platform"] == 16.5  # 30,000 credits × 0.00055
    table, _info = stored(local_store)
    assert set(table.column("usd_per_credit").to_pylist()) == {Decimal("0.00055")}

    store.put_bytes(
        layout.csv_key("org-b", THIS_WEEK), export_csv([export_row("9", "web-app", "1000")]).encode()
    )
    again = metadata_of(costs_run(local_store, teams_file, asset=asset, layout=layout))
    assert again["cost_usd/frontend"] == 1.1  # both organisations' web-app jobs


class Ticks:
    """The automation sensor's evaluations, tick after tick."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs, self.instance, self.cursor = defs, instance, None

    def requested(self) -> list[str]:
        result = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        return sorted(result.get_requested_partitions(WEEKLY_BY_TEAM))


def test_the_table_follows_any_source_even_when_others_are_missing(
    local_store: ArchiveStoreResource, teams_file: Path
) -> None:
    defs = dg.Definitions(
        assets=[usage_csv, workflow_runs, billing_usage, weekly_by_team],
        resources={
            "archive_store": local_store,
            "github": GitHubResource(repositories_file=str(teams_file)),
            "circleci": CircleCIResource(),
        },
    )
    instance = dg.DagsterInstance.ephemeral()
    ticks = Ticks(defs, instance)
    assert ticks.requested() == []  # nothing stored: nothing to build

    # CircleCI's CSV of a past week is stored (an import); GitHub is not configured at all
    instance.report_runless_asset_event(dg.AssetMaterialization(USAGE_CSV, partition=LAST_WEEK.key))
    assert ticks.requested() == [LAST_WEEK.key]
    assert ticks.requested() == []  # once

    instance.report_runless_asset_event(dg.AssetMaterialization(WORKFLOW_RUNS_KEY, partition=WEEK))
    instance.report_runless_asset_event(dg.AssetMaterialization(BILLING_USAGE_KEY, partition=WEEK))
    assert ticks.requested() == [WEEK]


def test_a_range_built_in_one_run_keeps_each_weeks_own_figures(
    local_store: ArchiveStoreResource, teams_file: Path
) -> None:
    put_circleci(local_store, LAST_WEEK, circleci_week("0.5"))
    put_circleci(local_store, THIS_WEEK, circleci_week())
    defs = dg.Definitions(
        assets=[weekly_by_team],
        resources={"archive_store": local_store, "github": GitHubResource(repositories_file=str(teams_file))},
    )
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": LAST_WEEK.key,
            "dagster/asset_partition_range_end": THIS_WEEK.key,
        },
    )
    assert result.success
    totals = {
        e.partition: e.metadata["cost_usd/total"].value
        for e in result.asset_materializations_for_node("ci_costs__weekly_by_team")
    }
    assert totals == {LAST_WEEK.key: 9.3, THIS_WEEK.key: 18.61}
    this_week = next(
        e for e in result.asset_materializations_for_node("ci_costs__weekly_by_team") if e.partition == WEEK
    )
    assert "| platform | 18.00 | 9.00 | +9.00 | +100.0 % |" in this_week.metadata["cost_by_team"].value
