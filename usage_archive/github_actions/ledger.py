"""A week of GitHub's billing usage ledger: which accounts to ask, asking them day by day, the stored file.

The accounts are every organisation of repositories.yml (those listed under `organizations:` and the owners of
the repositories listed one by one), plus the enterprise of GITHUB_ENTERPRISE when it is set. Each is asked for
each UTC day of the week. A 403 or 404 for an account names the access that account needs; every account is
tried, so one failure lists them all, and nothing is stored unless every account answered.

The file (`github-actions-usage/billing-usage-<week>.parquet`, archive/layout.py) keeps every item of every
account and day (billing_usage.BILLING_USAGE_SCHEMA); its footer lists the accounts asked, so an organisation
whose ledger was empty that week still counts as covered. An enterprise's ledger holds its organisations' items
too: `cost_items` keeps each item once, preferring the organisation's own answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from usage_archive.archive.parquet_footer import parquet_bytes, read_with_footer, require_columns, with_footer
from usage_archive.github_actions.billing_usage import (
    BILLING_USAGE_SCHEMA,
    ENTERPRISE,
    ORGANIZATION,
    UsageReport,
    billing_usage_table,
    is_actions,
    plain,
    week_days,
)
from usage_archive.github_actions.client import GitHubNotFound, GitHubPermissionError
from usage_archive.github_actions.config import RepositoriesConfig
from usage_archive.github_actions.metrics import markdown_table
from usage_archive.periods import Week

INFO_KEY = b"usage_archive.billing_usage"
SCHEMA_VERSION = 1


class LedgerFileError(ValueError):
    """A stored billing usage file that cannot be read back."""


class BillingAccessError(RuntimeError):
    """One or more accounts refused their billing usage (403) or were not found (404); the message lists each
    account with the access it needs."""


@dataclass(frozen=True, order=True)
class LedgerAccount:
    account_type: str  # organization / enterprise
    account: str  # the organisation login or enterprise slug

    def to_json(self) -> dict[str, str]:
        return {"type": self.account_type, "account": self.account}


class LedgerClient(Protocol):
    """What collecting needs from the GitHub client (usage_archive.github_actions.client.GitHubClient)."""

    def billing_usage(self, account: str, day: date, *, enterprise: bool = False) -> UsageReport: ...


def ledger_accounts(config: RepositoriesConfig, enterprise: str | None = None) -> list[LedgerAccount]:
    """The organisations of repositories.yml (listed ones first, then owners of listed repositories; each once,
    whatever its case) and the enterprise, if any."""
    seen: dict[str, LedgerAccount] = {}
    owners = [o.organization for o in config.organizations] + [
        r.full_name.split("/", 1)[0] for r in config.repositories
    ]
    for owner in owners:
        seen.setdefault(owner.lower(), LedgerAccount(ORGANIZATION, owner))
    accounts = list(seen.values())
    if enterprise:
        accounts.append(LedgerAccount(ENTERPRISE, enterprise))
    return accounts


@dataclass
class LedgerWeek:
    week: Week
    accounts: list[LedgerAccount]
    table: pa.Table

    def info(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "week": self.week.key,
            "days": [day.isoformat() for day in week_days(self.week)],
            "accounts": [a.to_json() for a in self.accounts],
        }


def collect_ledger(
    client: LedgerClient,
    accounts: Sequence[LedgerAccount],
    week: str | Week,
    log: Callable[[str], None] = lambda _message: None,
) -> LedgerWeek:
    """Every item of every account for every day of the week. BillingAccessError lists every account that
    refused (the others are still asked, so one run names every permission to fix)."""
    week = Week.parse(week)
    reports: list[UsageReport] = []
    refused: list[str] = []
    for account in accounts:
        try:
            for day in week_days(week):
                report = client.billing_usage(
                    account.account, day, enterprise=account.account_type == ENTERPRISE
                )
                reports.append(report)
            items = sum(len(r.items) for r in reports if r.account == account.account)
            log(
                f"{account.account_type} {account.account}: {items} billing usage items in the week of {week}"
            )
        except (GitHubPermissionError, GitHubNotFound) as exc:
            refused.append(str(exc))
    if refused:
        raise BillingAccessError(
            f"{len(refused)} of {len(accounts)} accounts did not give their billing usage; nothing was "
            "stored: " + "; ".join(refused)
        )
    return LedgerWeek(week, list(accounts), billing_usage_table(reports))


def ledger_file_bytes(ledger: LedgerWeek) -> bytes:
    """The Parquet file (zstd) with the accounts asked in its footer."""
    return parquet_bytes(with_footer(ledger.table, INFO_KEY, json.dumps(ledger.info())))


def read_ledger_file(data: bytes) -> LedgerWeek:
    """A stored billing usage file back into its table and the accounts asked."""
    table, info = read_with_footer(
        data, INFO_KEY, LedgerFileError, "the Parquet file has no usage_archive.billing_usage footer"
    )
    require_columns(table, BILLING_USAGE_SCHEMA, LedgerFileError)
    accounts = [LedgerAccount(a["type"], a["account"]) for a in info["accounts"]]
    table = table.replace_schema_metadata(None).select(BILLING_USAGE_SCHEMA.names).cast(BILLING_USAGE_SCHEMA)
    return LedgerWeek(Week.parse(info["week"]), accounts, table)


def asked_organizations(accounts: Iterable[LedgerAccount]) -> set[str]:
    """The organisations asked directly (lower case)."""
    return {a.account.lower() for a in accounts if a.account_type == ORGANIZATION}


def cost_items(ledger: LedgerWeek) -> pa.Table:
    """Each item once: every organisation's own items, and the enterprise's items of organisations that were
    not asked directly (an enterprise's ledger repeats its organisations' items)."""
    asked = asked_organizations(ledger.accounts)
    table = ledger.table
    if not asked or not any(a.account_type == ENTERPRISE for a in ledger.accounts):
        return table
    organization = pc.utf8_lower(pc.fill_null(table.column("organization_name"), ""))
    repeated = pc.and_(
        pc.equal(table.column("account_type"), ENTERPRISE),
        pc.is_in(organization, value_set=pa.array(sorted(asked), pa.string())),
    )
    return table.filter(pc.invert(repeated))


def covered_organizations(ledger: LedgerWeek) -> set[str]:
    """The organisations (lower case) whose Actions cost the ledger states: those asked, and those an
    enterprise's items name."""
    named = {
        name.lower()
        for name, kind in zip(
            ledger.table.column("organization_name").to_pylist(),
            ledger.table.column("account_type").to_pylist(),
            strict=True,
        )
        if name and kind == ENTERPRISE
    }
    return asked_organizations(ledger.accounts) | named


@dataclass(frozen=True)
class LedgerSummary:
    """Exact sums of the week's items (each item once, see cost_items), by product."""

    by_product: dict[str, tuple[Decimal, Decimal, Decimal]]  # product → (gross, discount, net)

    @property
    def net(self) -> Decimal:
        return sum((net for _, _, net in self.by_product.values()), Decimal(0))

    @property
    def actions_net(self) -> Decimal:
        return sum(
            (net for product, (_, _, net) in self.by_product.items() if is_actions(product)), Decimal(0)
        )

    def markdown(self) -> str:
        rows = [
            [product, plain(gross), plain(discount), plain(net)]
            for product, (gross, discount, net) in sorted(self.by_product.items())
        ]
        return markdown_table(["product", "gross (USD)", "discount (USD)", "net (USD)"], rows)


def ledger_summary(ledger: LedgerWeek) -> LedgerSummary:
    totals: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    items = cost_items(ledger).select(["product", "gross_amount", "discount_amount", "net_amount"])
    for row in items.to_pylist():
        gross, discount, net = totals.get(row["product"] or "(none)", (Decimal(0), Decimal(0), Decimal(0)))
        totals[row["product"] or "(none)"] = (
            gross + (row["gross_amount"] or 0),
            discount + (row["discount_amount"] or 0),
            net + (row["net_amount"] or 0),
        )
    return LedgerSummary(totals)
