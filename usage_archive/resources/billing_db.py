"""The billing Postgres: read-only use, one consistent snapshot per archived month."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from usage_archive.export.snapshot import BillingDatabaseNotConfigured


class BillingDatabaseResource(dg.ConfigurableResource):
    """BILLING_DATABASE_URL (postgresql://…). Every read runs in a REPEATABLE READ READ ONLY transaction."""

    url: str | None = Field(default=None, description="BILLING_DATABASE_URL; a secret, never logged")

    def get_url(self) -> str:
        if not self.url:
            raise BillingDatabaseNotConfigured(
                "BILLING_DATABASE_URL is not set: the billing assets need the postgresql://… URL of the billing "
                "database (a read-only role is enough)"
            )
        return self.url
