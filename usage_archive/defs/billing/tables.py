"""The billing tables that are archived, as data: one spec per file of a month's archive.

Adding a ledger table is one line here; the asset factory, the checks and the manifest follow from the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from usage_archive.export.month import TableExport

# Secrets or operational data: never archived (SPEC "Never archived").
NEVER_ARCHIVED = frozenset({"api_keys", "admin_users", "provider_configs", "revoked_tokens"})


class ForbiddenTableError(ValueError):
    """A table that must never be archived was configured."""


@dataclass(frozen=True)
class BillingTableSpec:
    export: TableExport
    description: str

    @property
    def asset_name(self) -> str:
        return self.export.archive_name


BILLING_TABLES: tuple[BillingTableSpec, ...] = (
    BillingTableSpec(TableExport("credits", "credits", "credits"), "Purchase and grant ledger"),
    BillingTableSpec(TableExport("charges", "charges", "charges"), "Usage deduction ledger"),
    BillingTableSpec(
        TableExport("google_play_purchases", "google_play_purchases", "google_play_purchases"),
        "Google Play in-app purchase records",
    ),
    BillingTableSpec(TableExport("llm_usage_logs", "llm_usage_logs", "llm_usage_logs"), "LLM cost tracking"),
    BillingTableSpec(
        TableExport("admin_audit_logs", "admin_audit_logs", "admin_audit_logs"), "Admin action audit trail"
    ),
    BillingTableSpec(
        TableExport("credit_checks", "credit_checks", "credit_checks"), "Usage authorization audit trail"
    ),
    BillingTableSpec(
        TableExport("accounts", "accounts_snapshot", "accounts-snapshot", time_column=None),
        "Whole `accounts` table as of the month's archive run (reference data)",
    ),
)


def validate_table_specs(specs: Sequence[BillingTableSpec]) -> None:
    """Refuse never-archived tables and duplicates when the code location loads, not at 3 AM."""
    forbidden = sorted({s.export.table.split(".")[-1] for s in specs} & NEVER_ARCHIVED)
    if forbidden:
        raise ForbiddenTableError(
            f"{', '.join(forbidden)} must never be archived (secrets or operational data): "
            "remove them from the billing table list"
        )
    names = [s.asset_name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"billing table specs repeat {', '.join(duplicates)}")
    if "manifest" in names:
        raise ValueError("'manifest' is reserved for the month's manifest asset")
