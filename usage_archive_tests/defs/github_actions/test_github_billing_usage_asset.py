"""`github_actions/billing_usage` and its reconciliation checks, materialized in-process against the fake GitHub
API (which writes amounts as JSON numbers with fractions of a cent) and a real archive store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dagster as dg

from usage_archive.archive.layout import github_billing_usage_key, github_workflow_runs_key
from usage_archive.defs.github_actions.assets import billing_usage, workflow_runs
from usage_archive.defs.github_actions.checks import (
    AMOUNTS_ADD_UP,
    ESTIMATE_MATCHES_LEDGER,
    build_billing_usage_checks,
    github_actions_workflow_runs_integrity,
)
from usage_archive.defs.github_actions.schedules import (
    github_actions_billing_usage_job,
    github_actions_billing_usage_schedule,
    github_actions_weekly_job,
)
from usage_archive.github_actions.ledger import read_ledger_file
from usage_archive.periods import Week
from usage_archive.resources.archive_store import ArchiveStoreResource
from usage_archive.resources.github import GitHubResource
from usage_archive_tests.defs.github_actions.conftest import TOKEN, WEEK, github_resource
from usage_archive_tests.fakes.github_api import FakeGitHub, usage_item

LEDGER_KEY = github_billing_usage_key(Week.parse(WEEK))
RECONCILIATION = build_billing_usage_checks(Decimal("2"), Decimal("1"))


def bill(github: FakeGitHub, macos_gross: str = "0.62", net_of_windows: str | None = None) -> None:
    """octo's ledger for the week as GitHub itemises it: the estimate of octo/api is 3 Linux minutes (0.018),
    4 Windows minutes (0.040) and 10 macOS minutes (0.620) = 0.678 USD; Linux came out of included minutes.
    Copilot and Packages (fractions of a cent) are billed too; octo-labs has a ledger with nothing in it."""
    github.billing[("organizations", "octo")] = [
        usage_item("2026-01-05", "octo/api", quantity="3", price="0.006", discount="0.018"),
        usage_item(
            "2026-01-05", "octo/api", sku="actions_windows", quantity="4", price="0.010", net=net_of_windows
        ),
        usage_item(
            "2026-01-06", "octo/api", sku="actions_macos", quantity="10", price="0.062", gross=macos_gross
        ),
        usage_item(
            "2026-01-07",
            None,
            product="copilot",
            sku="copilot_business",
            quantity="1",
            unit="user-months",
            price="19",
        ),
        usage_item(
            "2026-01-11",
            "octo/api",
            product="packages",
            sku="packages_storage",
            quantity="0.123456",
            unit="GigabyteHours",
            price="0.008",
        ),
        usage_item("2026-01-12", "octo/api", quantity="1000"),  # Monday after: another week's
    ]
    github.billing[("organizations", "octo-labs")] = []


def run(
    store: ArchiveStoreResource,
    github: FakeGitHub,
    repositories_file: Path,
    assets: list,
    instance: dg.DagsterInstance | None = None,
    **fields: object,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*assets, RECONCILIATION],
        partition_key=WEEK,
        raise_on_error=False,
        instance=instance,
        resources={"archive_store": store, "github": github_resource(github, repositories_file, **fields)},
    )


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_week_of_the_ledger_is_stored_exactly_and_agrees_with_the_estimate(
    github: FakeGitHub, repositories_file: Path, local_store: ArchiveStoreResource
) -> None:
    bill(github)
    result = run(local_store, github, repositories_file, [workflow_runs, billing_usage])
    assert result.success

    ledger = read_ledger_file(local_store.get_store().get_bytes(LEDGER_KEY))
    assert [(a.account_type, a.account) for a in ledger.accounts] == [
        ("organization", "octo-labs"),
        ("organization", "octo"),
    ]
    assert ledger.table.num_rows == 5  # every product, every day of the week, nothing of the next
    assert sorted(set(ledger.table.column("product").to_pylist())) == ["actions", "copilot", "packages"]
    assert sum(ledger.table.column("gross_amount").to_pylist()) == Decimal("19.678987648")  # exact
    assert len(github.paths("/settings/billing/usage")) == 14  # 7 days × 2 organisations

    (event,) = result.asset_materializations_for_node("github_actions__billing_usage")
    metadata = {k: v.value for k, v in event.metadata.items()}
    assert (metadata["items"], metadata["actions_net_usd"]) == (5, 0.66)
    assert "| packages | 0.000987648 | 0 | 0.000987648 |" in metadata["amounts_by_product"]

    checks = checks_of(result)
    assert checks[ESTIMATE_MATCHES_LEDGER].passed and checks[AMOUNTS_ADD_UP].passed
    figures = checks[ESTIMATE_MATCHES_LEDGER].metadata["by_week"].value[WEEK]
    assert (figures["compared"], figures["estimated_usd"], figures["ledger_gross_usd"]) == (
        2,
        "0.678",
        "0.678",
    )


def test_the_reconciliation_warns_when_ledger_and_estimate_disagree(
    github: FakeGitHub, repositories_file: Path, local_store: ArchiveStoreResource
) -> None:
    bill(github, macos_gross="4.999", net_of_windows="0.05")  # GitHub billed macOS far above the rates table
    result = run(local_store, github, repositories_file, [workflow_runs, billing_usage])
    assert result.success  # WARN: the run and the stored ledger stand

    checks = checks_of(result)
    reconciliation = checks[ESTIMATE_MATCHES_LEDGER]
    assert not reconciliation.passed
    assert reconciliation.severity == dg.AssetCheckSeverity.WARN
    assert reconciliation.description == (
        f"{WEEK}: octo/api: estimated 0.68 USD, ledger gross 5.06 USD (difference -4.38, tolerance 1.00)"
    )
    amounts = checks[AMOUNTS_ADD_UP]
    assert (amounts.passed, amounts.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert "actions_windows octo/api: gross 0.04 − discount 0 ≠ net 0.05" in amounts.description


def test_a_403_fails_the_ledger_only_and_names_the_permission(
    github: FakeGitHub, repositories_file: Path, local_store: ArchiveStoreResource
) -> None:
    bill(github)
    github.billing_forbidden.add("octo-labs")
    result = run(
        local_store,
        github,
        repositories_file,
        [workflow_runs, billing_usage, github_actions_workflow_runs_integrity],
    )
    assert not result.success
    # workflow_runs does not depend on the ledger: stored and checked in the same run
    assert result.asset_materializations_for_node("github_actions__workflow_runs")
    assert all(e.passed for e in checks_of(result).values())
    store = local_store.get_store()
    assert store.exists(github_workflow_runs_key(Week.parse(WEEK)))

    failure = result.failure_data_for_node("github_actions__billing_usage").error.message
    assert (
        "BillingAccessError: 1 of 2 accounts did not give their billing usage; nothing was stored" in failure
    )
    assert "organization octo-labs billing usage for 2026-01-05: 403" in failure
    assert "organisation owner or billing manager of octo-labs" in failure
    assert '"Administration: read"' in failure
    assert TOKEN not in failure
    assert not store.exists(LEDGER_KEY)
    assert ESTIMATE_MATCHES_LEDGER not in checks_of(result)  # the check does not run on a failed asset


def test_the_enterprise_ledger_is_read_too_when_configured(
    github: FakeGitHub, repositories_file: Path, local_store: ArchiveStoreResource
) -> None:
    bill(github)
    github.billing[("enterprises", "acme")] = [
        *github.billing[("organizations", "octo")][:3],  # the enterprise repeats its organisations' items
        usage_item("2026-01-08", "beta/app", quantity="7", organization="beta"),
    ]
    result = run(local_store, github, repositories_file, [workflow_runs, billing_usage], enterprise="acme")
    assert result.success
    assert len(github.paths("/enterprises/acme/settings/billing/usage")) == 7
    ledger = read_ledger_file(local_store.get_store().get_bytes(LEDGER_KEY))
    assert ledger.table.num_rows == 5 + 4
    checks = checks_of(result)
    assert checks[ESTIMATE_MATCHES_LEDGER].passed  # octo/api counted once, not twice


def test_the_ledger_has_its_own_weekly_job_beside_the_runs() -> None:
    defs = dg.Definitions(
        assets=[workflow_runs, billing_usage],
        asset_checks=[github_actions_workflow_runs_integrity, RECONCILIATION],
        jobs=[github_actions_weekly_job, github_actions_billing_usage_job],
        schedules=[github_actions_billing_usage_schedule],
        resources={"archive_store": ArchiveStoreResource(), "github": GitHubResource()},
    )
    runs_job = defs.resolve_job_def("github_actions_weekly_job")
    ledger_job = defs.resolve_job_def("github_actions_billing_usage_job")
    assert runs_job.asset_layer.executable_asset_keys == {dg.AssetKey(["github_actions", "workflow_runs"])}
    assert ledger_job.asset_layer.executable_asset_keys == {dg.AssetKey(["github_actions", "billing_usage"])}
    schedule = defs.resolve_schedule_def("github_actions_billing_usage_weekly")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * 1", "UTC")
