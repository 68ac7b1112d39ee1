"""Monthly partitions (keys YYYY-MM-01), from BILLING_ARCHIVE_START_MONTH (default 2024-01-01)."""

from __future__ import annotations

import os

import dagster as dg

from usage_archive.periods import Month

DEFAULT_START_MONTH = "2024-01-01"


def billing_start_month() -> str:
    return Month.parse(os.environ.get("BILLING_ARCHIVE_START_MONTH", DEFAULT_START_MONTH)).key


# end_offset=0: the newest partition is the last month that has ended, so a month in progress is never offered.
billing_monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=billing_start_month(), end_offset=0)
