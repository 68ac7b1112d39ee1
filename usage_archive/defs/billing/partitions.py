"""Monthly partitions (keys YYYY-MM-01) from BILLING_ARCHIVE_START_MONTH (usage_archive/settings.py)."""

from __future__ import annotations

import dagster as dg

from usage_archive.periods import Month
from usage_archive.settings import Settings


def build_monthly_partitions(start: Month) -> dg.MonthlyPartitionsDefinition:
    # end_offset=0: the newest partition is the last month that has ended, so a month in progress is never offered.
    return dg.MonthlyPartitionsDefinition(start_date=start.key, end_offset=0)


billing_monthly_partitions = build_monthly_partitions(Settings.from_env().billing_start_month)
