"""A week of the billing ledger: the accounts asked, every day of each over real HTTP, the stored file, and each
item counted once when an enterprise's ledger repeats its organisations'."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from usage_archive.github_actions.billing_usage import UsageReport, billing_usage_table
from usage_archive.github_actions.client import GitHubClient
from usage_archive.github_actions.config import parse_repositories
from usage_archive.github_actions.ledger import (
    BillingAccessError,
    LedgerAccount,
    LedgerWeek,
    collect_ledger,
    cost_items,
    covered_organizations,
    ledger_accounts,
    ledger_file_bytes,
    ledger_summary,
    read_ledger_file,
)
from usage_archive.periods import Week
from usage_archive_tests.fakes.github_api import FakeGitHub, usage_item

WEEK = Week.parse("2026-01-05")
CONFIG = parse_repositories("""\
repositories:
  - octo/api
  - Octo/web
  - someone/tool
organizations:
  - octo-labs
  - organization: OCTO
    team: core
""")


def test_every_organisation_once_then_the_enterprise() -> None:
    assert ledger_accounts(CONFIG) == [
        LedgerAccount("organization", "octo-labs"),
        LedgerAccount("organization", "OCTO"),
        LedgerAccount("organization", "someone"),
    ]
    assert ledger_accounts(CONFIG, "acme")[-1] == LedgerAccount("enterprise", "acme")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.billing[("organizations", "octo")] = [
            usage_item(
                "2026-01-05", "octo/api", quantity="3", price="0.006", gross="0.018", discount="0.018"
            ),
            usage_item("2026-01-11", "octo/api", sku="actions_macos", quantity="1", price="0.062"),
            usage_item("2026-01-12", "octo/api", quantity="100"),  # the next week: never asked for
        ]
        fake.billing[("organizations", "octo-labs")] = []  # no usage this week: still covered
        yield fake


def test_each_day_of_the_week_for_each_account(github: FakeGitHub) -> None:
    client = GitHubClient(github.token, github.api_url)
    accounts = [LedgerAccount("organization", "octo"), LedgerAccount("organization", "octo-labs")]
    logged: list[str] = []
    ledger = collect_ledger(client, accounts, WEEK, log=logged.append)
    days = [q["day"] for p, q in github.requests if p == "/organizations/octo/settings/billing/usage"]
    assert days == [str(d) for d in range(5, 12)]
    assert len(github.paths("/organizations/octo-labs/")) == 7
    assert ledger.table.column("date").to_pylist() == [date(2026, 1, 5), date(2026, 1, 11)]
    assert "organization octo: 2 billing usage items in the week of 2026-01-05" in logged

    back = read_ledger_file(ledger_file_bytes(ledger))
    assert back.table.equals(ledger.table)
    assert back.accounts == accounts and back.week == WEEK
    assert covered_organizations(back) == {"octo", "octo-labs"}


def test_every_refusing_account_is_named_with_the_access_it_needs(github: FakeGitHub) -> None:
    github.billing_forbidden.add("octo-labs")
    accounts = [
        LedgerAccount("organization", "octo-labs"),
        LedgerAccount("organization", "octo"),
        LedgerAccount("enterprise", "acme"),  # unknown: 404
    ]
    with pytest.raises(BillingAccessError) as excinfo:
        collect_ledger(GitHubClient(github.token, github.api_url), accounts, WEEK)
    message = str(excinfo.value)
    assert message.startswith("2 of 3 accounts did not give their billing usage; nothing was stored")
    assert "organization octo-labs billing usage for 2026-01-05: 403" in message
    assert "organisation owner or billing manager of octo-labs" in message
    assert '"Administration: read"' in message
    assert "enterprise acme billing usage for 2026-01-05: 404 Not Found" in message
    assert "enterprise owner or billing manager of acme" in message
    assert len(github.paths("/organizations/octo/")) == 7  # the others are still asked
    assert len(github.paths("/organizations/octo-labs/")) == 1  # one refusal is enough


def _report(kind: str, account: str, *items: dict) -> UsageReport:
    return UsageReport(kind, account, date(2026, 1, 5), list(items))


def test_an_enterprise_ledger_repeating_its_organisations_counts_each_item_once() -> None:
    own = usage_item("2026-01-05", "octo/api", quantity="10", organization="octo")
    other = usage_item("2026-01-05", "beta/app", quantity="5", organization="beta")
    copilot = usage_item(
        "2026-01-05",
        None,
        product="copilot",
        sku="copilot_business",
        quantity="1",
        unit="user-months",
        price="19",
        organization="octo",
    )
    table = billing_usage_table(
        [
            _report("organization", "octo", own, copilot),
            _report("enterprise", "acme", own, other, copilot),
        ]
    )
    ledger = LedgerWeek(
        WEEK, [LedgerAccount("organization", "octo"), LedgerAccount("enterprise", "acme")], table
    )
    assert table.num_rows == 5  # the archive keeps every answer as given
    kept = cost_items(ledger)
    assert sorted(
        zip(kept.column("account").to_pylist(), kept.column("organization_name").to_pylist(), strict=True)
    ) == [("acme", "beta"), ("octo", "octo"), ("octo", "octo")]
    assert covered_organizations(ledger) == {"octo", "beta"}
    summary = ledger_summary(ledger)
    assert summary.by_product["actions"] == (Decimal("0.09"), Decimal(0), Decimal("0.09"))
    assert (summary.actions_net, summary.net) == (Decimal("0.09"), Decimal("19.09"))
    assert "| copilot | 19 | 0 | 19 |" in summary.markdown()
