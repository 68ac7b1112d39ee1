"""The real `dagster asset materialize` CLI: GitHub's runs and ledger and the week's cost table in one run, with
CircleCI's CSV already archived (as an import leaves it), against the fake GitHub API and a local archive."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from usage_archive.archive.layout import CircleCILayout, ci_costs_key
from usage_archive.costs.week import read_cost_file
from usage_archive.periods import Week
from usage_archive_tests.costs.test_costs import export_csv, export_row
from usage_archive_tests.defs.github_actions.conftest import REPOSITORIES_YML, TOKEN, WEEK
from usage_archive_tests.defs.github_actions.test_github_billing_usage_asset import bill
from usage_archive_tests.fakes.github_api import FakeGitHub

pytestmark = pytest.mark.cli

PROJECT = Path(__file__).resolve().parents[3]
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def test_the_cost_table_with_its_github_upstreams_in_one_cli_run(github: FakeGitHub, tmp_path: Path) -> None:
    bill(github)
    archive = tmp_path / "archive"
    csv_path = archive / CircleCILayout(()).csv_key("", Week.parse(WEEK))
    csv_path.parent.mkdir(parents=True)
    csv_path.write_text(export_csv([export_row("1", "api-server", "25000")]))
    repositories = tmp_path / "repositories.yml"
    repositories.write_text(REPOSITORIES_YML)
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ARCHIVE_URL": str(archive),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": github.api_url,
        "USAGE_ARCHIVE_REPOSITORIES": str(repositories),
        "CIRCLECI_USD_PER_CREDIT": "0.00055",
    }
    selection = "github_actions/workflow_runs,github_actions/billing_usage,ci_costs/weekly_by_team"
    done = subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "usage_archive.definitions", "--select", selection,
         "--partition", WEEK],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert TOKEN not in done.stdout + done.stderr
    assert "Asset check 'totals_match_sources' on 'ci_costs/weekly_by_team' passed" in done.stderr
    assert (
        "Asset check 'actions_estimate_matches_ledger' on 'github_actions/billing_usage' passed"
        in done.stderr
    )

    table, info = read_cost_file((archive / ci_costs_key(Week.parse(WEEK))).read_bytes())
    assert info["providers"] == ["circleci", "github_actions"]
    costs = {(r["provider"], r["project"]): (r["cost_usd"], r["cost_source"]) for r in table.to_pylist()}
    assert costs[("circleci", "example/api-server")] == (Decimal("13.75"), "estimate")  # 25,000 × 0.00055
    assert costs[("github_actions", "octo/api")] == (Decimal("0.66"), "ledger")
