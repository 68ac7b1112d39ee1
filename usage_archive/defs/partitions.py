"""The one weekly partitions definition every weekly asset shares: weeks from Monday 00:00 UTC, keyed by the
Monday (`YYYY-MM-DD`), starting at USAGE_ARCHIVE_START_WEEK (usage_archive/settings.py).

The start is a fixed Monday, never relative to today, so as the calendar moves only new weeks are added: an
archived week never drops out of the partition set (and with it, its history in the UI). CircleCI's org × week
multi-partition is built on this definition (defs/circleci/partitions.py).
"""

from __future__ import annotations

import dagster as dg

from usage_archive.periods import Week
from usage_archive.settings import Settings


def build_weekly_partitions(start: Week) -> dg.WeeklyPartitionsDefinition:
    # day_offset=1: weeks start on Monday; end_offset=0: only weeks that have ended are offered.
    return dg.WeeklyPartitionsDefinition(start_date=start.key, day_offset=1, timezone="UTC", end_offset=0)


weekly_partitions = build_weekly_partitions(Settings.from_env().start_week)
