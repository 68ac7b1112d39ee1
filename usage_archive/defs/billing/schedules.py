"""The monthly billing job and its schedule: 03:00 UTC on the 2nd, for the month that just ended."""

from __future__ import annotations

import dagster as dg

from usage_archive.defs.billing.assets import BILLING_DB_TAGS, GROUP

billing_archive_job = dg.define_asset_job(
    "billing_archive_job",
    selection=dg.AssetSelection.groups(GROUP),
    tags=BILLING_DB_TAGS,
    description="Archive one month of the billing ledger (all tables, one snapshot, manifest last) and check it.",
)

billing_monthly_schedule = dg.build_schedule_from_partitioned_job(
    billing_archive_job,
    name="billing_monthly_archive",
    hour_of_day=3,
    day_of_month=2,
    minute_of_hour=0,
    tags=BILLING_DB_TAGS,
)
