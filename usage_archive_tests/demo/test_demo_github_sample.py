"""The demo's sample GitHub, served locally, read by the real client: what `make demo` collects and prices."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from usage_archive.archive.store import LocalArchiveStore
from usage_archive.costs.reconcile import compare
from usage_archive.demo.github_sample import REPOSITORIES_FILE, TOKEN, SampleGitHubServer, build_sample
from usage_archive.github_actions.client import GitHubAuthError, GitHubClient
from usage_archive.github_actions.collect import collect_week
from usage_archive.github_actions.config import load_repositories
from usage_archive.github_actions.ledger import collect_ledger, cost_items, ledger_accounts

WEEK = "2026-11-09"


@pytest.fixture(scope="module")
def served() -> Iterator[SampleGitHubServer]:
    with SampleGitHubServer() as server:
        yield server


def test_the_sample_is_the_same_every_time() -> None:
    first, second = build_sample(), build_sample()
    assert first.runs == second.runs and first.jobs == second.jobs and first.usage_items == second.usage_items


def test_a_sample_week_collects_prices_and_reconciles(served: SampleGitHubServer, tmp_path) -> None:
    client = GitHubClient(TOKEN, served.api_url)
    config = load_repositories(REPOSITORIES_FILE)
    runs = collect_week(client, LocalArchiveStore(tmp_path), config, WEEK).table
    rows = runs.to_pylist()
    classes = {r["runner_class"] for r in rows}
    assert {"standard_linux", "standard_windows", "standard_macos", "larger", "self_hosted"} <= classes
    docs = [r for r in rows if r["repository"] == "example/docs"]
    assert docs and all(r["estimated_cost_usd"] == 0 for r in docs)  # public on standard runners: free
    assert all(r["run_seconds"] is None or r["run_seconds"] >= 0 for r in rows)
    assert any(r["completed_at"] < r["started_at"] for r in docs)  # the skipped job's reversed timestamps
    assert {r["team"] for r in rows} == {"platform", "frontend", "mobile"}

    ledger = collect_ledger(client, ledger_accounts(config), WEEK)
    assert {p for p in ledger.table.column("product").to_pylist()} == {"actions", "copilot", "packages"}
    comparisons = compare(runs, cost_items(ledger), repositories=sorted({r["repository"] for r in rows}))
    assert comparisons and not [c for c in comparisons if c.disagrees]
    assert sum(c.ledger_gross_usd for c in comparisons) > Decimal(0)


def test_the_sample_server_wants_its_token(served: SampleGitHubServer) -> None:
    with pytest.raises(GitHubAuthError):
        GitHubClient("ghp_someone_else", served.api_url, max_attempts=1).get_repository("example/docs")
